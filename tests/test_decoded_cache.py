"""``data.decoded_cache``: file-based image data decoded once into a memory-mapped file, then
read from it, giving the same batches; a cache per set of files, rebuilt when a file changes;
a file that cannot be read refused at set-up with the reader's message, nothing left behind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shiftlab.data import decoded_cache
from shiftlab.errors import DataError
from tests.conftest import run_shiftlab
from tests.helpers import write_class_folders, write_segmentation_folders
from tests.test_device_normalize import data_module, first_batches


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SHIFTLAB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "decoded"


def segmentation(root: Path) -> list[str]:
    return ["experiment=segmentation_shapes", "data=segmentation_folders", f"data.root={root}",
            "data.num_classes=3", "data.batch_size=4"]  # fmt: skip


def classification(root: Path) -> list[str]:
    return ["experiment=fashion_mnist_cnn", "data=image_folder", f"data.root={root}",
            "data.image_size=[24,32]", "data.val_fraction=0.2", "data.test_fraction=0.2",
            "data.batch_size=4"]  # fmt: skip


def built(cached: str, overrides: list[str], tmp_path: Path, name: str):
    """The data module of ``overrides`` with ``data.decoded_cache=<cached>``, set up."""
    return data_module([*overrides, f"data.decoded_cache={cached}"], True, tmp_path / name)


def assert_same_batches(a: dict, b: dict) -> None:
    for split in a:
        assert a[split].keys() == b[split].keys()
        for key, value in a[split].items():
            if isinstance(value, torch.Tensor):
                assert value.dtype == b[split][key].dtype, (split, key)
                assert torch.equal(value, b[split][key]), (split, key)
            else:
                assert value == b[split][key], (split, key)


@pytest.mark.parametrize("kind", ["segmentation", "classification"])
def test_cached_samples_give_the_batches_the_files_give(kind, cache_dir, tmp_path):
    root = tmp_path / "data"
    if kind == "segmentation":
        write_segmentation_folders(root, splits=("train", "val", "test"), count=6)
        overrides = segmentation(root)
    else:
        write_class_folders(root, per_class=6)
        overrides = classification(root)
    from_files = built("false", overrides, tmp_path, "files")
    assert not cache_dir.exists()
    cached = built("true", overrides, tmp_path, "cached")
    (folder,) = cache_dir.iterdir()
    assert {p.name for p in folder.iterdir()} == {"data.bin", "index.npz", "meta.json"}
    # every sample read back equals its decoded file, arrays and dtypes alike
    for index in range(len(cached._decoded)):
        for got, want in zip(cached.read(index), from_files.read(index), strict=True):
            if isinstance(want, np.ndarray):
                assert got.dtype == want.dtype and np.array_equal(got, want)
            else:
                assert got == want
    assert_same_batches(first_batches(cached, seed=3), first_batches(from_files, seed=3))


def test_a_second_run_reads_the_cache_and_a_changed_file_makes_a_new_one(
    cache_dir, tmp_path, monkeypatch
):
    root = write_segmentation_folders(tmp_path / "data", splits=("train",), count=8)
    first = built("true", segmentation(root), tmp_path, "one")
    (folder,) = cache_dir.iterdir()
    made = (folder / "data.bin").stat().st_mtime_ns

    def no_decoding(self, index):
        raise AssertionError("decoded a file although the cache holds it")

    monkeypatch.setattr(
        "shiftlab.data.segmentation_modules.SegmentationFolders.decode", no_decoding
    )
    again = built("true", segmentation(root), tmp_path, "two")
    assert [p.name for p in cache_dir.iterdir()] == [folder.name]
    assert (folder / "data.bin").stat().st_mtime_ns == made
    assert_same_batches(first_batches(again, seed=1), first_batches(first, seed=1))
    monkeypatch.undo()
    monkeypatch.setenv("SHIFTLAB_CACHE_DIR", str(cache_dir.parent))

    # an edited image: a new cache, holding the new pixels
    edited = root / "train" / "train_03.png"
    Image.fromarray(np.full((40, 56, 3), 201, dtype=np.uint8)).save(edited)
    os.utime(edited, ns=(made + 10**9, made + 10**9))
    changed = built("true", segmentation(root), tmp_path, "three")
    assert len(list(cache_dir.iterdir())) == 2
    index = next(i for i, (image, _) in enumerate(changed.pairs) if image == edited)
    assert (changed.read(index)[0] == 201).all()


def test_a_corrupt_file_is_refused_at_set_up_and_leaves_no_cache(cache_dir, tmp_path):
    root = write_class_folders(tmp_path / "data", per_class=6)
    (root / "dog" / "dog_2.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"dog_2\.png"):
        built("true", classification(root), tmp_path, "run")
    assert list(cache_dir.iterdir()) == []  # the half-built folder is gone


def test_the_cache_keeps_each_samples_dtype_and_shape(cache_dir):
    samples = [(np.arange(12, dtype=np.uint8).reshape(2, 2, 3), np.ones((2, 2), np.uint16)),
               (np.zeros((5, 1, 3), np.uint8), np.full((5, 1), 7, np.int32))]  # fmt: skip
    store = decoded_cache.decoded_samples(
        lambda i: samples[i], 2, [[Path(__file__)]], {"test": "dtypes"}, threads=2
    )
    for i, sample in enumerate(samples):
        for got, want in zip(store.read(i), sample, strict=True):
            assert got.dtype == want.dtype and got.shape == want.shape
            assert np.array_equal(got, want)
            assert got.ctypes.data % decoded_cache.ALIGN == 0
            assert not got.flags.writeable  # a transform copies what it changes


def test_training_from_the_cache_through_the_cli(tmp_path):
    root = write_segmentation_folders(tmp_path / "data", splits=("train", "val"), count=6)
    cache = tmp_path / "cache"
    args = ["train", "experiment=segmentation_shapes", "data=segmentation_folders",
            f"data.root={root}", "data.num_classes=3", "data.batch_size=4",
            "data.decoded_cache=true", "trainer.max_epochs=1",
            "trainer.enable_progress_bar=false"]  # fmt: skip
    proc = run_shiftlab(*args, cwd=tmp_path, env={"SHIFTLAB_CACHE_DIR": str(cache)})
    assert "Decoded 12 samples once into" in proc.stdout + proc.stderr
    (folder,) = (cache / "decoded").iterdir()
    assert (folder / "meta.json").is_file()
    args[args.index("data.decoded_cache=true")] = "data.decoded_cache=sometimes"
    bad = run_shiftlab(*args, cwd=tmp_path, check=False)
    assert bad.returncode == 1
    message = "data.decoded_cache='sometimes' is not valid: it must be true or false"
    assert message in bad.stdout + bad.stderr


def test_a_cache_missing_a_file_is_made_again_and_pickles_without_its_data(cache_dir):
    import pickle

    samples = [(np.full((64, 64, 3), i, np.uint8),) for i in range(4)]
    store = decoded_cache.decoded_samples(lambda i: samples[i], 4, [[Path(__file__)]], {})
    store.read(0)  # mapped now
    copy = pickle.loads(pickle.dumps(store))
    assert len(pickle.dumps(store)) < 4 * 64 * 64 * 3  # the index, not the mapped data
    assert np.array_equal(copy.read(3)[0], samples[3][0])
    (store.folder / "data.bin").unlink()
    again = decoded_cache.decoded_samples(lambda i: samples[i], 4, [[Path(__file__)]], {})
    assert again.folder == store.folder
    assert np.array_equal(again.read(2)[0], samples[2][0])
