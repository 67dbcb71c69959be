"""Spectrogram data: the synthetic task, the npy reader, variable lengths and splits."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from shiftlab.data import SpectrogramNpy, SpectrogramSynth
from shiftlab.data.spectrograms import LengthGroupedSampler, SpectrogramPairs, pad_collate
from shiftlab.data.synthetic_speech import SpeechSynthesis
from shiftlab.errors import ConfigError, DataError
from tests.helpers import write_npy_dataset


def test_synthetic_pairs_depend_only_on_seed_and_index():
    gen = SpeechSynthesis()
    a_in, a_out = gen.pair(7, 3)
    b_in, b_out = gen.pair(7, 3)
    assert np.array_equal(a_in, b_in) and np.array_equal(a_out, b_out)
    c_in, _ = gen.pair(8, 3)
    assert a_in.shape != c_in.shape or not np.array_equal(a_in, c_in)


def test_synthetic_pairs_look_like_degraded_speech():
    gen = SpeechSynthesis()
    lengths = set()
    for i in range(20):
        degraded, clean = gen.pair(0, i)
        assert degraded.shape == clean.shape and degraded.shape[0] == 256
        assert degraded.dtype == np.float32
        assert 48 <= degraded.shape[1] <= 160
        lengths.add(degraded.shape[1])
        assert clean.min() >= -4.0 and clean.max() <= 0.5
        # the degradation removes high frequencies: the top half is far quieter than in the
        # clean target wherever the target has energy
        loud = clean[128:] > -2.5
        if loud.any():
            assert (clean[128:][loud] - degraded[128:][loud]).mean() > 0.5
    assert len(lengths) > 5  # T varies per sample


def test_synth_module_splits_and_shapes():
    dm = SpectrogramSynth(num_train=6, num_val=3, num_test=2, min_frames=5, max_frames=9)
    dm.setup()
    assert [len(dm.datasets[s]) for s in ("train", "val", "test")] == [6, 3, 2]
    assert sorted(dm.datasets["val"].indices) == [6, 7, 8]
    batch = next(iter(dm.val_dataloader()))
    assert batch["input"].shape[:3] == (3, 1, 256)
    assert batch["mask"].shape == (3, batch["input"].shape[-1])
    stats = dm.statistics()
    assert stats["target_std"] > 0 and stats["input_mean"] < 0


def test_pad_collate_masks_padded_frames():
    items = [
        {"input": torch.ones(1, 4, n), "target": torch.ones(1, 4, n) * 2, "index": i}
        for i, n in enumerate([3, 5, 1])
    ]
    batch = pad_collate(items)
    assert batch["input"].shape == (3, 1, 4, 5)
    assert batch["lengths"].tolist() == [3, 5, 1]
    assert batch["mask"].tolist() == [
        [True, True, True, False, False],
        [True] * 5,
        [True, False, False, False, False],
    ]
    assert batch["input"][0, 0, :, 3:].abs().sum() == 0
    assert batch["target"][1].sum() == 2 * 4 * 5


def test_length_grouped_sampler_is_a_permutation_with_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 200, size=203).tolist()
    sampler = LengthGroupedSampler(lengths, batch_size=8, seed=3, group_batches=4)
    order = list(sampler)
    assert sorted(order) == list(range(203))
    spread = [np.ptp([lengths[i] for i in order[k : k + 8]]) for k in range(0, 200, 8)]
    random_spread = [np.ptp(lengths[k : k + 8]) for k in range(0, 200, 8)]
    assert np.mean(spread) < 0.5 * np.mean(random_spread)
    # deterministic per epoch, different across epochs
    assert list(sampler) == order
    sampler.set_epoch(1)
    assert list(sampler) != order


@pytest.mark.parametrize("layout", ["npz", "stack", "folder", "sequence"])
def test_npy_module_reads_every_layout(tmp_path, layout):
    lengths = [6] * 10 if layout == "stack" else [3, 9, 4, 7, 5, 8, 6, 10, 2, 11]
    x, y = write_npy_dataset(tmp_path / "d", lengths, layout=layout)
    dm = SpectrogramNpy(
        str(x),
        str(y),
        allow_pickle=layout == "sequence",  # the user vouches for their own pickled file
        freq_bins=32,
        val_fraction=0.2,
        test_fraction=0.2,
        splits_file=str(tmp_path / "splits.csv"),
        batch_size=3,
    )
    dm.setup()
    assert [len(dm.datasets[s]) for s in ("train", "val", "test")] == [6, 2, 2]
    seen = []
    for batch in dm.train_dataloader():
        lengths_in_batch = batch["lengths"].tolist()
        assert batch["input"].shape[-1] == max(lengths_in_batch)
        assert batch["mask"].sum().item() == sum(lengths_in_batch)
        seen += batch["index"].tolist()
    assert sorted(seen) == sorted(dm.datasets["train"].indices)


def test_npy_split_is_written_and_reproducible(tmp_path):
    x, y = write_npy_dataset(tmp_path / "d", [4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
    splits = []
    for run in ("a", "b"):
        path = tmp_path / run / "splits.csv"
        dm = SpectrogramNpy(
            str(x),
            str(y),
            freq_bins=32,
            split_seed=5,
            splits_file=str(path),
            val_fraction=0.3,
            test_fraction=0.2,
        )
        dm.setup()
        rows = list(csv.DictReader(path.open()))
        assert [r["index"] for r in rows] == [str(i) for i in range(10)]
        assert {r["split"] for r in rows} == {"train", "val", "test"}
        assert rows[3]["input"] == "bone.npz[arr_3]" and rows[3]["frames"] == "7"
        splits.append([r["split"] for r in rows])
        val = sorted(dm.datasets["val"].indices)
        assert val == [int(r["index"]) for r in rows if r["split"] == "val"]
    assert splits[0] == splits[1]


def test_npy_shape_mismatch_names_the_files(tmp_path):
    x, y = write_npy_dataset(tmp_path / "d", [4, 5, 6], layout="folder")
    np.save(y / "001.npy", np.zeros((32, 9), dtype=np.float32))
    dm = SpectrogramNpy(str(x), str(y), freq_bins=32)
    with pytest.raises(
        DataError,
        match=r"Input 001.npy\[0\] has shape \(32, 5\) but its target 001.npy\[0\] has \(32, 9\)",
    ):
        dm.setup()


def test_npy_missing_path_says_which_key(tmp_path):
    dm = SpectrogramNpy(str(tmp_path / "nope.npy"), str(tmp_path / "nope2.npy"))
    with pytest.raises(DataError, match=r"data.train_data_path: .*nope.npy does not exist"):
        dm.setup()


def test_npy_nan_is_refused(tmp_path):
    x, y = write_npy_dataset(tmp_path / "d", [4, 5], layout="folder")
    bad = np.load(x / "000.npy")
    bad[0, 0] = np.nan
    np.save(x / "000.npy", bad)
    with pytest.raises(DataError, match=r"000.npy\[0\] contains NaN"):
        SpectrogramNpy(str(x), str(y), freq_bins=32).setup()


def test_npy_wrong_frequency_bins_suggests_the_fix(tmp_path):
    x, y = write_npy_dataset(tmp_path / "d", [4, 5])
    with pytest.raises(DataError, match=r"set data\.freq_bins=32"):
        SpectrogramNpy(str(x), str(y), freq_bins=256).setup()


def test_split_fractions_must_leave_training_data(tmp_path):
    with pytest.raises(ConfigError, match="leaves nothing to train on"):
        SpectrogramNpy("a", "b", val_fraction=0.6, test_fraction=0.4)


def test_empty_split_is_an_error(tmp_path):
    x, y = write_npy_dataset(tmp_path / "d", [4, 5, 6])
    dm = SpectrogramNpy(str(x), str(y), freq_bins=32, val_fraction=0.1, test_fraction=0.1)
    with pytest.raises(DataError, match="The val split is empty"):
        dm.setup()


def test_pairs_refuse_unequal_counts():
    with pytest.raises(ValueError, match="2 input spectrograms but 1 targets"):
        SpectrogramPairs([np.zeros((2, 2))] * 2, [np.zeros((2, 2))])
