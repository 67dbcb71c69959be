"""uint8 image batches normalised on the device (``data.normalize_on_device``): the same
normalised batches as the loader-side pipeline, and the loader-side pipeline kept wherever
moving the step would change a result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shiftlab.data.device_normalize import DeviceNormalize
from shiftlab.run.building import build
from tests.helpers import write_class_folders, write_segmentation_folders
from tests.test_configs import compose_train

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def image_options(root: Path) -> dict[str, list[str]]:
    """Every image data option, on small data (files written under ``root``)."""
    write_segmentation_folders(root / "seg", splits=("train", "val", "test"), count=6)
    write_class_folders(root / "classes", per_class=6)
    options = {
        "shapes_synth": ["experiment=segmentation_shapes", "data.num_train=8",
                         "data.num_val=4", "data.num_test=4", "data.batch_size=4"],
        "shapes_grey": ["experiment=segmentation_shapes", "data=shapes_grey",
                        "data.num_train=8", "data.num_val=4", "data.num_test=4",
                        "data.batch_size=4"],
        "segmentation_folders": ["experiment=segmentation_shapes", "data=segmentation_folders",
                                 f"data.root={root / 'seg'}", "data.num_classes=3",
                                 "data.batch_size=4"],
        "image_folder": ["experiment=fashion_mnist_cnn", "data=image_folder",
                         f"data.root={root / 'classes'}", "data.image_size=[24,32]",
                         "data.val_fraction=0.2", "data.test_fraction=0.2", "data.batch_size=4"],
    }  # fmt: skip
    if FASHION_MNIST.is_dir():
        options["fashion_mnist"] = ["experiment=fashion_mnist_cnn", "data.batch_size=64"]
    return options


def data_module(overrides: list[str], on_device: bool, run_dir: Path):
    flag = f"data.normalize_on_device={str(on_device).lower()}"
    cfg = compose_train([*overrides, flag, f"paths.output_dir={run_dir}", "data.num_workers=0"])
    data = build(cfg.data, "data")
    data.setup("fit")
    return data


def first_batches(data, seed: int) -> dict[str, dict]:
    """The first train batch (augmented, drawn from the seed) and the first val batch, each
    as the trainer hands it to the task."""
    out = {}
    for split in ("train", "val"):
        np.random.seed(seed)
        torch.manual_seed(seed)
        loader = data.train_dataloader() if split == "train" else data.val_dataloader()
        out[split] = next(iter(loader))
    return out


@pytest.fixture(scope="module")
def options(tmp_path_factory) -> dict[str, list[str]]:
    return image_options(tmp_path_factory.mktemp("image-data"))


OPTIONS = ["shapes_synth", "shapes_grey", "segmentation_folders", "image_folder", "fashion_mnist"]


@pytest.mark.parametrize("name", OPTIONS)
def test_uint8_batches_normalised_on_the_device_equal_the_loaders_normalised_ones(
    options, name, tmp_path
):
    if name not in options:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    moved = data_module(options[name], True, tmp_path / "a")
    kept = data_module(options[name], False, tmp_path / "b")
    assert moved.device_normalize is not None and kept.device_normalize is None
    for split, batch in first_batches(moved, seed=3).items():
        reference = first_batches(kept, seed=3)[split]
        assert batch["image"].dtype == torch.uint8  # what the loader moves: 1 byte a pixel
        assert reference["image"].dtype == torch.float32
        if "mask" in batch:
            assert batch["mask"].dtype == torch.uint8
        finished = moved.on_after_batch_transfer(batch, 0)
        reference = kept.on_after_batch_transfer(reference, 0)
        assert finished["image"].dtype == torch.float32
        assert finished["image"].is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(finished["image"], reference["image"], rtol=0, atol=1e-6)
        for key in ("mask", "label", "index"):
            if key in reference:
                assert torch.equal(finished[key], reference[key]), key
        if "mask" in finished:
            assert finished["mask"].dtype == torch.int64


def test_the_normalize_entry_keeps_its_meaning_on_the_device(options, tmp_path):
    """data.mean / data.std (and an override of the entry itself) decide the values."""
    overrides = [*options["shapes_synth"], "data.mean=[0.2,0.3,0.4]", "data.std=[0.5,0.6,0.7]"]
    data = data_module(overrides, True, tmp_path)
    batch = next(iter(data.val_dataloader()))
    pixels = batch["image"].to(torch.float64) / 255
    finished = data.on_after_batch_transfer(dict(batch), 0)["image"].to(torch.float64)
    mean = torch.tensor([0.2, 0.3, 0.4], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.5, 0.6, 0.7], dtype=torch.float64).view(1, 3, 1, 1)
    torch.testing.assert_close(finished, (pixels - mean) / std, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "change",
    [
        ["+data.train_transforms.normalize.p=0.5"],  # not always applied
        ["data.eval_transforms.normalize.mean=[0.1,0.1,0.1]"],  # train and eval differ
        ["+data.train_transforms.last={_target_: albumentations.HorizontalFlip, p: 1.0}"],
    ],
    ids=["sometimes", "train-and-eval-differ", "not-the-last-step"],
)
def test_a_normalize_that_cannot_move_stays_in_the_loader(options, change, tmp_path):
    data = data_module([*options["shapes_synth"], *change], True, tmp_path)
    assert data.device_normalize is None
    assert next(iter(data.val_dataloader()))["image"].dtype == torch.float32


def test_an_image_that_is_float_before_normalize_is_normalised_in_the_loader(options, tmp_path):
    """A pipeline whose images end as floats (here ToFloat, then Normalize of 0–1 values)
    gives float batches, normalised in the loader, equal to the loader-side pipeline's."""
    change = [
        "+data.train_transforms.a_to_float={_target_: albumentations.ToFloat}",
        "+data.eval_transforms.a_to_float={_target_: albumentations.ToFloat}",
    ]
    batches = {}
    for on_device in (True, False):
        run_dir = tmp_path / str(on_device)
        data = data_module([*options["shapes_synth"], *change], on_device, run_dir)
        batch = next(iter(data.val_dataloader()))
        assert batch["image"].dtype == torch.float32
        batches[on_device] = data.on_after_batch_transfer(batch, 0)["image"]
    assert torch.equal(batches[True], batches[False])


def test_without_a_normalize_step_images_arrive_as_float_pixel_values(options, tmp_path):
    change = ["~data.train_transforms.normalize", "~data.eval_transforms.normalize"]
    data = data_module([*options["shapes_synth"], *change], True, tmp_path)
    batch = next(iter(data.val_dataloader()))
    assert batch["image"].dtype == torch.uint8
    finished = data.on_after_batch_transfer(dict(batch), 0)["image"]
    assert finished.dtype == torch.float32
    assert torch.equal(finished, batch["image"].float()) and finished.max() > 1


def test_device_normalize_matches_albumentations_on_every_layout():
    import albumentations as A

    step = A.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    normalize = DeviceNormalize.of(step)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 7, 9, 3), dtype=np.uint8)
    expected = torch.from_numpy(np.stack([step(image=i)["image"] for i in images]))
    expected = expected.permute(0, 3, 1, 2)
    nhwc = torch.from_numpy(images)
    for batch in (nhwc.permute(0, 3, 1, 2), nhwc.permute(0, 3, 1, 2).contiguous(),
                  nhwc.permute(0, 3, 1, 2)[:, :, ::2]):  # fmt: skip
        out = normalize(batch)
        reference = expected if batch.shape[2] == 7 else expected[:, :, ::2]
        torch.testing.assert_close(out, reference, rtol=0, atol=1e-6)
        assert out.is_contiguous(memory_format=torch.channels_last) == batch.is_contiguous(
            memory_format=torch.channels_last
        )


def _torch_passes(normalize: DeviceNormalize, batch: torch.Tensor, monkeypatch) -> torch.Tensor:
    monkeypatch.setenv("SHIFTLAB_NATIVE_NORMALIZE", "0")
    try:
        return normalize(batch)
    finally:
        monkeypatch.delenv("SHIFTLAB_NATIVE_NORMALIZE")


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_the_native_pass_gives_torchs_values_bit_for_bit_in_every_layout(channels, monkeypatch):
    from shiftlab.data import native_normalize

    step_values = {1: ([0.5], [0.25]), 3: ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
                   4: ([0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8])}[channels]  # fmt: skip
    import albumentations as A

    normalize = DeviceNormalize.of(A.Normalize(mean=step_values[0], std=step_values[1]))
    rng = np.random.default_rng(channels)
    nhwc = torch.from_numpy(rng.integers(0, 256, (3, 11, 13, channels), dtype=np.uint8))
    batches = {
        "channels-last": nhwc.permute(0, 3, 1, 2),
        "contiguous": nhwc.permute(0, 3, 1, 2).contiguous(),
        "strided": nhwc.permute(0, 3, 1, 2)[:, :, ::2],
    }
    for name, batch in batches.items():
        native = native_normalize.normalize_u8(
            batch, normalize._per_channel(normalize.shift, channels),
            normalize._per_channel(normalize.scale, channels),
        )  # fmt: skip
        assert native is not None, native_normalize._library.reason
        reference = _torch_passes(normalize, batch, monkeypatch)
        assert torch.equal(native, reference), name
        assert torch.equal(normalize(batch), native), name  # what the data module calls
        for layout in (torch.channels_last, torch.contiguous_format):  # the torch passes' one
            assert native.is_contiguous(memory_format=layout) == reference.is_contiguous(
                memory_format=layout
            ), name


def test_the_native_pass_splits_a_large_batch_between_threads_with_the_same_values(
    monkeypatch,
):
    import albumentations as A

    from shiftlab.data import native_normalize

    normalize = DeviceNormalize.of(A.Normalize())
    nhwc = torch.randint(0, 256, (4, 64, 96, 3), dtype=torch.uint8)
    monkeypatch.setattr(native_normalize, "_BYTES_PER_THREAD", 1024)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert native_normalize._threads_for(nhwc) == 2
        assert native_normalize._library.get() is not None, native_normalize._library.reason
        for batch in (nhwc.permute(0, 3, 1, 2), nhwc.permute(0, 3, 1, 2).contiguous()):
            assert torch.equal(normalize(batch), _torch_passes(normalize, batch, monkeypatch))
    finally:
        torch.set_num_threads(threads)


def test_without_a_compiler_batches_are_normalised_by_torch_to_the_same_values(
    monkeypatch, tmp_path, request
):
    import albumentations as A

    from shiftlab.data import native_normalize

    normalize = DeviceNormalize.of(A.Normalize())
    batch = torch.randint(0, 256, (2, 3, 5, 7), dtype=torch.uint8)
    expected = normalize(batch)
    native_normalize._library.forget()
    request.addfinalizer(native_normalize._library.forget)  # built again for later tests
    monkeypatch.setenv("PATH", str(tmp_path))  # no cc, gcc or clang to be found
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("SHIFTLAB_CACHE_DIR", str(tmp_path / "cache"))
    assert native_normalize.normalize_u8(batch, [0.0] * 3, [1.0] * 3) is None
    assert native_normalize._library.reason == "no C compiler (cc, gcc or clang) on PATH"
    assert torch.equal(normalize(batch), expected)
