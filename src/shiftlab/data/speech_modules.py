"""LightningDataModules for speech enhancement: folders of recordings, and synthetic speech.

Both read (or make) waveforms, degrade clean speech when no degraded recordings are given,
and compute STFT features on the fly (:mod:`shiftlab.data.speech`): memory holds a batch,
not the corpus, whether it has a hundred files or a hundred thousand.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from shiftlab.config.schema import check_split_fractions, check_value
from shiftlab.data.audio import audio_files, header_seconds, read_audio
from shiftlab.data.degradation import Degradation
from shiftlab.data.epoch_loaders import EpochLoaders
from shiftlab.data.loader_settings import loader_workers
from shiftlab.data.loader_settings import pin_memory as pin_memory_default
from shiftlab.data.spectrograms import standardisation_statistics
from shiftlab.data.speech import LoadPair, SpeechItems, speech_collate
from shiftlab.data.splits import (
    SPLITS,
    Folds,
    consecutive_splits,
    split_off,
    write_split_file,
)
from shiftlab.data.stft import STFT
from shiftlab.data.synthetic_voice import VoiceSynthesis
from shiftlab.errors import ConfigError, DataError
from shiftlab.spectral_scales import check_scale

STATISTICS_ITEMS = 64  # training items the standardisation statistics are taken from


class SpeechDataModule(EpochLoaders, L.LightningDataModule):
    """Shared loading for speech pairs; subclasses say where the waveforms come from.

    Args:
        sample_rate: the rate models work at; recordings at other rates are resampled.
        n_fft, hop_length: the STFT (``n_fft // 2 + 1`` frequency bins; 510 gives 256).
        freq_bins: ``n_fft // 2 + 1``, stated so that models follow it by interpolation.
        scale: how spectrogram values map to decibels (``log10_magnitude``, ``db``, ...).
        segment_frames: frames of each training crop; validation and test see whole files.
        crops_per_item: training crops of each recording per epoch (a small corpus gives
            more steps per epoch).
        degradation: the ranges of the degradation made from clean speech (see
            :class:`~shiftlab.data.degradation.Degradation`), where no degraded recordings
            are given.
        seed: seed of crops, degradations and the training order (the run's ``seed``).
        batch_size, eval_batch_size, num_workers, pin_memory: data loader settings.
        in_channels, out_channels: 1 (mono spectrograms), stated for the models.
        split_seed, num_folds, fold, group_by: k-fold cross-validation over train and val
            (see :class:`~shiftlab.data.splits.Folds`; the test split stays fixed).
    """

    # What the batches hold (see shiftlab.tasks.kinds.SAMPLES): the tasks that train on it.
    provides = "speech_pairs"
    collate = staticmethod(speech_collate)

    def __init__(
        self,
        sample_rate: int = 16_000,
        n_fft: int = 510,
        hop_length: int = 128,
        freq_bins: int = 256,
        scale: str = "log10_magnitude",
        segment_frames: int = 64,
        crops_per_item: int = 1,
        degradation: Mapping[str, Any] | None = None,
        seed: int | None = 0,
        batch_size: int = 16,
        eval_batch_size: int = 4,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        in_channels: int = 1,
        out_channels: int = 1,
        split_seed: int = 0,
        num_folds: int | None = None,
        fold: int = 0,
        group_by: str | None = None,
    ) -> None:
        super().__init__()
        self.folds = Folds(num_folds, fold, split_seed, group_by)
        self.stft = STFT(n_fft, hop_length)
        if freq_bins != self.stft.freq_bins:
            raise ConfigError(
                f"data.freq_bins={freq_bins} but data.n_fft={n_fft} gives {self.stft.freq_bins} "
                f"frequency bins; set data.freq_bins={self.stft.freq_bins} (or n_fft to "
                f"{2 * (freq_bins - 1)})."
            )
        if (in_channels, out_channels) != (1, 1):
            raise ConfigError(
                "Speech is mono here: keep data.in_channels=1 and data.out_channels=1."
            )
        check_value("data.batch_size", batch_size)
        check_value("data.eval_batch_size", eval_batch_size)
        check_value("data.segment_frames", segment_frames)
        check_value("data.crops_per_item", crops_per_item)
        self.sample_rate = sample_rate
        self.freq_bins = freq_bins
        self.in_channels, self.out_channels = in_channels, out_channels
        self.scale = check_scale(scale)
        self.segment_frames = segment_frames
        self.crops_per_item = crops_per_item
        self.degradation = Degradation(**dict(degradation or {}))
        self.seed = torch.initial_seed() % 2**32 if seed is None else seed
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = loader_workers(num_workers)
        self.pin_memory = pin_memory_default(pin_memory)
        self.datasets: dict[str, SpeechItems] | None = None
        self._statistics: dict[str, float] | None = None

    # -- what subclasses provide ---------------------------------------------------------

    def split_indices(self) -> dict[str, list[int]]:
        """Item indices of each split, evaluation splits in the order they are batched."""
        raise NotImplementedError

    def load_pair(self, index: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------

    def degrade(self, clean: np.ndarray, index: int, epoch: int) -> np.ndarray:
        """``clean`` degraded by the configured degradation, drawn from (seed, epoch, index)."""
        rng = np.random.default_rng([self.seed, epoch, index, 2])
        return self.degradation(clean, self.sample_rate, rng)

    def setup(self, stage: str | None = None) -> None:
        if self.datasets is not None:
            return
        load: LoadPair = self.load_pair
        self.datasets = {}
        for split, indices in self.split_indices().items():
            if not indices:
                raise DataError(
                    f"The {split} split of the speech data is empty; add recordings or raise "
                    f"data.{split}_fraction / data.num_{split}."
                )
            train = split == "train"
            self.datasets[split] = SpeechItems(
                load, indices, self.stft, self.scale,
                self.segment_frames if train else None, self.seed,
                self.crops_per_item if train else 1,
            )  # fmt: skip

    def statistics(self) -> dict[str, float]:
        """Mean and standard deviation of training inputs and targets (on up to 64 crops of
        epoch 0), for tasks that standardise their network's inputs and outputs."""
        if self._statistics is None:
            dataset = self._split("train")
            count = min(len(dataset), STATISTICS_ITEMS)
            items = [dataset[(i, 0)] for i in range(count)]
            self._statistics = standardisation_statistics(
                [item["input"] for item in items], [item["target"] for item in items]
            )
        return self._statistics


class SpeechSynth(SpeechDataModule):
    """Synthetic speech (:mod:`shiftlab.data.synthetic_voice`) degraded by the configured
    degradation, through the same front-end as recordings: no download.

    Utterance ``i`` depends only on ``(data seed, i)``: train is ``[0, num_train)``, val and
    test follow. Each clean utterance is made once and kept (the default set is 28 MB), so
    later epochs pay only for the degradation, which is drawn anew each epoch; validation
    and test inputs are degraded once, the same in every run.

    Args:
        num_train, num_val, num_test: utterances per split.
        data_seed: the generator's seed (separate from the run's seed).
        min_seconds, max_seconds: range of utterance durations.
        Other arguments: see :class:`SpeechDataModule`.
    """

    def __init__(
        self,
        num_train: int = 256,
        num_val: int = 16,
        num_test: int = 16,
        data_seed: int = 1234,
        min_seconds: float = 1.0,
        max_seconds: float = 2.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0 < min_seconds <= max_seconds:
            raise ConfigError(
                f"data.min_seconds ({min_seconds}) must be above 0 and at most data.max_seconds "
                f"({max_seconds})."
            )
        self.counts = {"train": num_train, "val": num_val, "test": num_test}
        self.data_seed = data_seed
        self.generator = VoiceSynthesis(self.sample_rate, min_seconds, max_seconds)
        self._clean: dict[int, np.ndarray] = {}

    def split_indices(self) -> dict[str, list[int]]:
        splits = consecutive_splits(self.counts)
        return self.folds.apply(splits, [str(i) for i in range(sum(self.counts.values()))])

    def load_pair(self, index: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        if index not in self._clean:
            self._clean[index] = self.generator.utterance(self.data_seed, index)
        clean = self._clean[index]
        return self.degrade(clean, index, epoch), clean


class SpeechWav(SpeechDataModule):
    """Recordings from folders: degraded ``inputs`` and clean ``targets``, paired by their
    path below each folder without the suffix (``spk1/a01.wav`` with ``spk1/a01.flac``).

    With ``inputs`` null, inputs are made from the clean recordings by the configured
    degradation, so any folder of clean speech is training data. ``test_inputs`` and
    ``test_targets`` give a held-out test set (e.g. other speakers); otherwise test, like
    validation, is split off reproducibly (``val_fraction``, ``test_fraction``,
    ``split_seed``) and the split written to ``splits_file``. Every file's header is read at
    launch, so a damaged file stops the run before training, naming it.

    Args:
        targets: the folder of clean recordings.
        inputs: the folder of degraded recordings, or null to degrade the targets.
        test_targets, test_inputs: a held-out test set (inputs null: degraded targets).
        Other arguments: see :class:`SpeechDataModule`.
    """

    def __init__(
        self,
        targets: str,
        inputs: str | None = None,
        test_targets: str | None = None,
        test_inputs: str | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        splits_file: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        held_out = test_targets is not None
        check_split_fractions({"val": val_fraction, "test": 0.0 if held_out else test_fraction})
        if test_inputs is not None and test_targets is None:
            raise ConfigError(
                "data.test_inputs is set but data.test_targets is not: a test set needs its "
                "clean recordings too (data.test_targets=<folder>)."
            )
        self.folders = {"inputs": inputs, "targets": targets}
        self.test_folders = {"inputs": test_inputs, "targets": test_targets}
        self.fractions = {"val": val_fraction, "test": test_fraction}
        self.splits_file = splits_file
        self.pairs: list[tuple[Path | None, Path, str]] = []  # (input or None, target, name)

    def split_indices(self) -> dict[str, list[int]]:
        self.pairs = _pairs(self.folders["inputs"], self.folders["targets"], "data.")
        splits: dict[str, list[int]] = {"train": list(range(len(self.pairs)))}
        if self.test_folders["targets"] is not None:
            test = _pairs(self.test_folders["inputs"], self.test_folders["targets"], "data.test_")
            splits["test"] = list(range(len(self.pairs), len(self.pairs) + len(test)))
            self.pairs += test
            splits.update(split_off(splits.pop("train"), {"val": self.fractions["val"]},
                                    self.folds.seed))  # fmt: skip
        else:
            splits = split_off(splits["train"], self.fractions, self.folds.seed)
        splits = self.folds.apply(splits, [name for _, _, name in self.pairs])
        seconds = [header_seconds(target) for _, target, _ in self.pairs]
        for source in (source for source, _, _ in self.pairs if source is not None):
            header_seconds(source)
        self._write_splits(splits, seconds)
        # evaluation splits by duration, so their batches need little padding
        for split in ("val", "test"):
            splits[split] = sorted(splits[split], key=lambda i: seconds[i])
        return {s: splits[s] for s in SPLITS}

    def load_pair(self, index: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        source, target, _ = self.pairs[index]
        minimum = self.stft.n_fft
        clean = read_audio(target, self.sample_rate, minimum).samples
        if source is None:
            return self.degrade(clean, index, epoch), clean
        noisy = read_audio(source, self.sample_rate, minimum).samples
        if abs(len(noisy) - len(clean)) > self.stft.hop_length:
            raise DataError(
                f"{source} lasts {len(noisy) / self.sample_rate:.3f} s but its clean recording "
                f"{target} {len(clean) / self.sample_rate:.3f} s: a pair must be the same "
                "utterance. Fix or remove the pair."
            )
        length = min(len(noisy), len(clean))
        return noisy[:length], clean[:length]

    def _write_splits(self, splits: dict[str, list[int]], seconds: list[float]) -> None:
        where = {i: s for s, indices in splits.items() for i in indices}
        rows = (
            (i, where[i], str(source or ""), str(target), f"{seconds[i]:.3f}")
            for i, (source, target, _) in enumerate(self.pairs)
        )
        write_split_file(self.splits_file, ["index", "split", "input", "target", "seconds"], rows)


def _pairs(inputs: str | None, targets: str, prefix: str) -> list[tuple[Path | None, Path, str]]:
    """(degraded file or None, clean file, name) for every clean recording, sorted by name;
    ``prefix`` starts the config keys named in errors (``data.`` or ``data.test_``)."""
    clean = audio_files(Path(targets), f"{prefix}targets")
    if inputs is None:
        return [(None, path, name) for name, path in sorted(clean.items())]
    degraded = audio_files(Path(inputs), f"{prefix}inputs")
    alone = sorted(set(degraded) ^ set(clean))
    if alone:
        shown = ", ".join(alone[:5]) + (f" and {len(alone) - 5} more" if len(alone) > 5 else "")
        raise DataError(
            f"{len(alone)} recordings have no partner: {shown}. Degraded and clean recordings "
            f"pair by their path without suffix below {inputs} and {targets}; add the missing "
            "files or move the unpaired ones out."
        )
    return [(degraded[name], clean[name], name) for name in sorted(clean)]
