"""LightningDataModules for spectrogram-to-spectrogram tasks."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from shiftlab.config.schema import check_split_fractions, check_value
from shiftlab.data.loader_settings import loader_workers
from shiftlab.data.loader_settings import pin_memory as pin_memory_default
from shiftlab.data.npy_reader import Spectrograms, read_spectrograms
from shiftlab.data.spectrograms import (
    LengthGroupedSampler,
    SpectrogramPairs,
    pad_collate,
    standardisation_statistics,
)
from shiftlab.data.splits import (
    SPLITS,
    Folds,
    consecutive_splits,
    split_off,
    write_split_file,
)
from shiftlab.data.synthetic_speech import SpeechSynthesis
from shiftlab.errors import ConfigError, DataError


class SpectrogramDataModule(L.LightningDataModule):
    """Shared loading for spectrogram pairs: subclasses provide the three splits.

    Args:
        freq_bins: frequency bins F of every spectrogram (models follow it by interpolation).
        scale: how values map to decibels (``log10_magnitude``, ``db``, ``magnitude``, ...).
        batch_size: spectrograms per training batch (padded to the longest in the batch).
        eval_batch_size: spectrograms per validation/test batch; defaults to ``batch_size``.
        num_workers: data loader worker processes (0 loads in the main process); ``None``
            chooses from the machine (see :func:`shiftlab.data.loader_settings.loader_workers`).
        pin_memory: pin host memory for faster copies to a GPU; ``None`` pins when CUDA is on.
        shuffle_seed: seed of the length-grouped shuffling of the training set (the configs
            pass the run's ``seed``); ``None`` draws one.
        in_channels, out_channels: channels of inputs and targets. Spectrograms here are
            single-channel F×T arrays, so both are 1; the config states them so that models
            can follow them by interpolation.
        split_seed, num_folds, fold, group_by: k-fold cross-validation over train and val
            (see :class:`~shiftlab.data.splits.Folds`; the test split stays fixed).
    """

    # What the batches hold (see shiftlab.tasks.kinds.SAMPLES): the tasks that train on it.
    provides = "spectrogram_pairs"

    def __init__(
        self,
        freq_bins: int = 256,
        scale: str = "log10_magnitude",
        batch_size: int = 16,
        eval_batch_size: int | None = None,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        shuffle_seed: int | None = 0,
        in_channels: int = 1,
        out_channels: int = 1,
        split_seed: int = 0,
        num_folds: int | None = None,
        fold: int = 0,
        group_by: str | None = None,
    ) -> None:
        super().__init__()
        self.folds = Folds(num_folds, fold, split_seed, group_by)
        if (in_channels, out_channels) != (1, 1):
            raise ConfigError(
                f"Spectrogram data is single-channel (F×T arrays), so data.in_channels and "
                f"data.out_channels must be 1; got {in_channels} and {out_channels}."
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        check_value("data.batch_size", batch_size)
        self.freq_bins = freq_bins
        self.scale = scale
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = loader_workers(num_workers)
        self.pin_memory = pin_memory_default(pin_memory)
        self.shuffle_seed = torch.initial_seed() % 2**32 if shuffle_seed is None else shuffle_seed
        self.datasets: dict[str, SpectrogramPairs] | None = None
        self._statistics: dict[str, float] | None = None

    def load_splits(self) -> dict[str, SpectrogramPairs]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.datasets is None:
            self.datasets = self.load_splits()
            for split, dataset in self.datasets.items():
                if len(dataset) == 0:
                    raise DataError(
                        f"The {split} split is empty. Give it samples (more data, or a larger "
                        f"data.{split}_fraction / data.num_{split})."
                    )

    def statistics(self) -> dict[str, float]:
        """Mean and standard deviation of the training inputs and targets (real frames only).

        Tasks that standardise their network's inputs and outputs read these once, at setup,
        and keep them in the checkpoint.
        """
        if self._statistics is None:
            dataset = self._split("train")
            self._statistics = standardisation_statistics(dataset.inputs, dataset.targets)
        return self._statistics

    def train_dataloader(self) -> DataLoader:
        dataset = self._split("train")
        sampler = LengthGroupedSampler(dataset.lengths, self.batch_size, seed=self.shuffle_seed)
        return self._loader(dataset, self.batch_size, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._split("val"), self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._split("test"), self.eval_batch_size)

    def _split(self, split: str) -> SpectrogramPairs:
        if self.datasets is None:
            self.setup()
        assert self.datasets is not None
        return self.datasets[split]

    def _loader(self, dataset: SpectrogramPairs, batch_size: int, sampler=None) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            shuffle=False,
            collate_fn=pad_collate,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )


def _sorted_by_length(inputs, targets, indices) -> SpectrogramPairs:
    """Evaluation sets in length order, so their batches need little padding."""
    order = sorted(range(len(inputs)), key=lambda i: inputs[i].shape[-1])
    return SpectrogramPairs(
        [inputs[i] for i in order], [targets[i] for i in order], [indices[i] for i in order]
    )


class SpectrogramSynth(SpectrogramDataModule):
    """Synthetic speech-like pairs (see :mod:`shiftlab.data.synthetic_speech`), no download.

    Pair ``i`` depends only on ``(seed, i)``: train is ``[0, num_train)``, val and test
    follow. The data seed is separate from the training seed, so sweeping ``seed`` compares
    runs on the same data.

    Args:
        num_train, num_val, num_test: pairs per split.
        seed: seed of the generator.
        min_frames, max_frames: range of the number of time steps T of each pair.
        Other arguments: see :class:`SpectrogramDataModule`.
    """

    def __init__(
        self,
        num_train: int = 512,
        num_val: int = 64,
        num_test: int = 64,
        seed: int = 1234,
        min_frames: int = 48,
        max_frames: int = 160,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not 1 <= min_frames <= max_frames:
            raise ConfigError(
                f"data.min_frames ({min_frames}) must be at least 1 and at most "
                f"data.max_frames ({max_frames})."
            )
        self.counts = {"train": num_train, "val": num_val, "test": num_test}
        self.seed = seed
        self.generator = SpeechSynthesis(
            freq_bins=self.freq_bins, min_frames=min_frames, max_frames=max_frames
        )

    def load_splits(self) -> dict[str, SpectrogramPairs]:
        splits: dict[str, SpectrogramPairs] = {}
        names = [str(i) for i in range(sum(self.counts.values()))]
        ranges = self.folds.apply(consecutive_splits(self.counts), names)
        for split in SPLITS:
            indices = ranges[split]
            pairs = [self.generator.pair(self.seed, i) for i in indices]
            inputs, targets = [p[0] for p in pairs], [p[1] for p in pairs]
            if split == "train":
                splits[split] = SpectrogramPairs(inputs, targets, indices)
            else:
                splits[split] = _sorted_by_length(inputs, targets, indices)
        return splits


class SpectrogramNpy(SpectrogramDataModule):
    """Input and target spectrograms from ``.npy`` files, split reproducibly.

    Args:
        train_data_path: the input (degraded) spectrograms: a ``.npy`` file or a directory.
        segmented_data_path: the target (clean) spectrograms, in the same order and shapes.
        val_fraction, test_fraction: shares of the pairs held out; the rest trains.
        split_seed: seed of the random split.
        splits_file: where to write the split (one row per pair: index, split, source files),
            so a run can be checked or repeated on exactly the same partition.
        allow_pickle: read pickled object arrays (the seed project's format for spectrograms
            of different lengths). Unpickling runs code stored in the file: only for files
            you made yourself; ``.npz`` files or folders of ``.npy`` files need no pickle.
        Other arguments: see :class:`SpectrogramDataModule`.
    """

    def __init__(
        self,
        train_data_path: str,
        segmented_data_path: str,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        splits_file: str | None = None,
        allow_pickle: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        check_split_fractions({"val": val_fraction, "test": test_fraction})
        self.allow_pickle = allow_pickle
        self.train_data_path = train_data_path
        self.segmented_data_path = segmented_data_path
        self.fractions = {"val": val_fraction, "test": test_fraction}
        self.splits_file = splits_file

    def load_splits(self) -> dict[str, SpectrogramPairs]:
        inputs = read_spectrograms(self.train_data_path, "data.train_data_path", self.allow_pickle)
        targets = read_spectrograms(
            self.segmented_data_path, "data.segmented_data_path", self.allow_pickle
        )
        self._check_pairs(inputs, targets)
        assignment = self._assign_splits(inputs.sources)
        self._write_splits(assignment, inputs, targets)
        splits: dict[str, SpectrogramPairs] = {}
        for split in SPLITS:
            idx = [i for i, s in enumerate(assignment) if s == split]
            xs, ys = [inputs.arrays[i] for i in idx], [targets.arrays[i] for i in idx]
            if split == "train":
                splits[split] = SpectrogramPairs(xs, ys, idx)
            else:
                splits[split] = _sorted_by_length(xs, ys, idx)
        return splits

    def _check_pairs(self, inputs: Spectrograms, targets: Spectrograms) -> None:
        if len(inputs.arrays) != len(targets.arrays):
            raise DataError(
                f"data.train_data_path holds {len(inputs.arrays)} spectrograms but "
                f"data.segmented_data_path holds {len(targets.arrays)}; each input needs one "
                "target, in the same order."
            )
        if not inputs.arrays:
            raise DataError("data.train_data_path holds no spectrograms.")
        for x, y, xs, ys in zip(
            inputs.arrays, targets.arrays, inputs.sources, targets.sources, strict=True
        ):
            if x.shape != y.shape:
                raise DataError(
                    f"Input {xs} has shape {x.shape} but its target {ys} has {y.shape}; a "
                    "target must have its input's F×T shape."
                )
            if x.shape[0] != self.freq_bins:
                raise DataError(
                    f"{xs} has {x.shape[0]} frequency bins but data.freq_bins is "
                    f"{self.freq_bins}; set data.freq_bins={x.shape[0]}."
                )
            for name, array in ((xs, x), (ys, y)):
                if not np.isfinite(array).all():
                    raise DataError(
                        f"{name} contains NaN or infinite values; clean or drop that "
                        "spectrogram (e.g. floor magnitudes before taking the logarithm)."
                    )

    def _assign_splits(self, sources: list[str]) -> list[str]:
        """The split of each pair, in order (``split_off`` over all pairs, then this fold's
        train and val); ``sources`` name the pairs (what ``data.group_by`` patterns see)."""
        assignment = [""] * len(sources)
        splits = split_off(range(len(sources)), self.fractions, self.folds.seed)
        for split, indices in self.folds.apply(splits, sources).items():
            for i in indices:
                assignment[i] = split
        return assignment

    def _write_splits(self, assignment: list[str], inputs: Spectrograms, targets: Spectrograms):
        rows = (
            (i, split, inputs.sources[i], targets.sources[i], inputs.arrays[i].shape[-1])
            for i, split in enumerate(assignment)
        )
        header = ["index", "split", "input", "target", "frames"]
        write_split_file(self.splits_file, header, rows)
