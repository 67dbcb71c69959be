"""LightningDataModules of audio clips with targets: a folder of recordings with a CSV of
targets, and two synthetic sets (struck drums, notes of known pitch) that need no download.

All give batches of ``audio`` (N × samples), ``targets`` (N × targets), ``frame_f0`` (N ×
frames) and ``index`` (:mod:`shiftlab.data.labelled_audio`); which task they serve is the
task's choice (``task=pitch`` reads the first target as the clip's pitch in Hz).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from shiftlab.config.schema import check_split_fractions, check_value
from shiftlab.data.audio import AUDIO_SUFFIXES, header_seconds, read_audio
from shiftlab.data.epoch_loaders import EpochLoaders
from shiftlab.data.file_lists import listed_file
from shiftlab.data.frames import frame_centres
from shiftlab.data.labelled_audio import Clip, LabelledClips, LoadClip
from shiftlab.data.loader_settings import loader_workers
from shiftlab.data.loader_settings import pin_memory as pin_memory_default
from shiftlab.data.splits import (
    SPLITS,
    Folds,
    consecutive_splits,
    split_off,
    write_split_file,
)
from shiftlab.data.synthetic_drums import PARAMETERS, DrumSynthesis
from shiftlab.data.synthetic_tones import ToneSynthesis
from shiftlab.errors import ConfigError, DataError

PITCH_FILE_SUFFIX = ".f0.csv"  # next to a recording: its pitch per time (``time,f0`` lines)


class LabelledAudioDataModule(EpochLoaders, L.LightningDataModule):
    """Shared loading of labelled clips; subclasses say where the recordings come from.

    Args:
        target_columns: the names of the targets (CSV columns, or synthetic parameters).
        sample_rate: the rate models work at; recordings at other rates are resampled.
        clip_seconds: the length of every clip (training crops and evaluation clips).
        hop_length: samples between frames whose pitch is given (160: 10 ms at 16 kHz).
        crops_per_item: training crops of each recording per epoch.
        seed: seed of crops and of the training order (the run's ``seed``).
        batch_size, eval_batch_size, num_workers, pin_memory: data loader settings.
        split_seed, num_folds, fold, group_by: k-fold cross-validation over train and val
            (see :class:`~shiftlab.data.splits.Folds`; the test split stays fixed).
    """

    # What the batches hold (see shiftlab.tasks.kinds.SAMPLES): the tasks that train on it.
    provides = "labelled_audio"

    def __init__(
        self,
        target_columns: Sequence[str],
        sample_rate: int = 16_000,
        clip_seconds: float = 1.0,
        hop_length: int = 160,
        crops_per_item: int = 1,
        seed: int | None = 0,
        batch_size: int = 16,
        eval_batch_size: int = 16,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        split_seed: int = 0,
        num_folds: int | None = None,
        fold: int = 0,
        group_by: str | None = None,
    ) -> None:
        super().__init__()
        self.folds = Folds(num_folds, fold, split_seed, group_by)
        if isinstance(target_columns, str):
            target_columns = [target_columns]
        self.target_columns = [str(c) for c in target_columns or []]
        if not self.target_columns:
            raise ConfigError(
                "data.target_columns is empty: name the targets, e.g. "
                "data.target_columns=[f0] or data.target_columns=[size,aspect]."
            )
        if not clip_seconds > 0 or not hop_length > 0 or not sample_rate > 0:
            raise ConfigError(
                f"data.clip_seconds ({clip_seconds}), data.hop_length ({hop_length}) and "
                f"data.sample_rate ({sample_rate}) must all be above 0."
            )
        check_value("data.batch_size", batch_size)
        check_value("data.eval_batch_size", eval_batch_size)
        check_value("data.crops_per_item", crops_per_item)
        self.sample_rate = int(sample_rate)
        self.clip_samples = round(clip_seconds * sample_rate)
        self.hop_length = int(hop_length)
        self.crops_per_item = crops_per_item
        self.seed = torch.initial_seed() % 2**32 if seed is None else seed
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = loader_workers(num_workers)
        self.pin_memory = pin_memory_default(pin_memory)
        self.datasets: dict[str, LabelledClips] | None = None

    # -- what subclasses provide ---------------------------------------------------------

    def split_indices(self) -> dict[str, list[int]]:
        """Item indices of each split."""
        raise NotImplementedError

    def load(self, index: int, epoch: int) -> Clip:
        raise NotImplementedError

    def targets_of(self, indices: Sequence[int]) -> np.ndarray:
        """The targets of items (len(indices) × targets), without reading their audio."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------

    def setup(self, stage: str | None = None) -> None:
        if self.datasets is not None:
            return
        self.datasets = {}
        load: LoadClip = self.load
        for split, indices in self.split_indices().items():
            if not indices:
                raise DataError(
                    f"The {split} split of the audio data is empty; add recordings or raise "
                    f"data.{split}_fraction / data.num_{split}."
                )
            train = split == "train"
            self.datasets[split] = LabelledClips(
                load, indices, self.clip_samples, self.hop_length, train, self.seed,
                self.crops_per_item if train else 1,
            )  # fmt: skip

    def network_facts(self) -> dict[str, Any]:
        """What networks and tasks need to know of this data."""
        return {
            "num_outputs": len(self.target_columns),
            "target_names": list(self.target_columns),
            "samples": self.clip_samples,
        }

    def statistics(self) -> dict[str, list[float]]:
        """Mean and standard deviation of each target over the training split, for tasks
        that standardise their targets."""
        targets = self.targets_of(self._split("train").indices)
        std = np.where(targets.std(axis=0) > 1e-12, targets.std(axis=0), 1.0)
        return {"target_mean": targets.mean(axis=0).tolist(), "target_std": std.tolist()}


class AudioCSV(LabelledAudioDataModule):
    """Recordings in ``root`` and a CSV naming each file (``file_column``) and its targets
    (``target_columns``): a note's pitch in Hz (``[f0]``), a drum's ``[size, aspect]``, ...

    A recording may have its pitch per frame next to it, ``<name>.f0.csv`` (``time,f0`` per
    line, seconds and Hz, 0 Hz where unvoiced); ``task=pitch`` trains on it where present and
    on the CSV's constant pitch elsewhere. The split is made reproducibly (``val_fraction``,
    ``test_fraction``, ``split_seed``) and written to ``splits_file``. The CSV and every
    file's header are checked at launch: a missing column, a file that is not there or is no
    audio, or a target that is not a number stops the run before training, naming the row.

    Args:
        root: the folder of the recordings (the CSV's file names are relative to it).
        csv_path: the CSV (a header row, then one row per recording).
        file_column: the column of file names.
        Other arguments: see :class:`LabelledAudioDataModule`.
    """

    def __init__(
        self,
        root: str,
        csv_path: str,
        file_column: str = "file",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        splits_file: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_split_fractions({"val": val_fraction, "test": test_fraction})
        self.root = Path(root).expanduser()
        self.csv_path = Path(csv_path).expanduser()
        self.file_column = file_column
        self.fractions = {"val": val_fraction, "test": test_fraction}
        self.splits_file = splits_file
        self.files: list[Path] = []
        self.names: list[str] = []
        self.targets = np.zeros((0, len(self.target_columns)), dtype=np.float32)
        self.columns: dict[str, list[str]] = {}  # the CSV's values per recording, by column

    def split_indices(self) -> dict[str, list[int]]:
        self._read_csv()
        for path in self.files:
            header_seconds(path, "replace it or drop its row from the CSV")
        splits = split_off(list(range(len(self.files))), self.fractions, self.folds.seed)
        splits = self.folds.apply(splits, self.names, None, self.columns)
        where = {i: s for s, indices in splits.items() for i in indices}
        rows = (
            (i, where[i], self.names[i], *(f"{v:g}" for v in self.targets[i]))
            for i in range(len(self.files))
        )
        header = ["index", "split", self.file_column, *self.target_columns]
        write_split_file(self.splits_file, header, rows)
        return {s: splits[s] for s in SPLITS}

    def targets_of(self, indices: Sequence[int]) -> np.ndarray:
        if not self.files:
            self._read_csv()
        return self.targets[list(indices)]

    def load(self, index: int, epoch: int) -> Clip:
        path = self.files[index]
        samples = read_audio(path, self.sample_rate).samples
        return Clip(samples, self.targets[index], self._frame_f0(path, len(samples)))

    def _read_csv(self) -> None:
        if not self.root.is_dir():
            raise DataError(f"data.root: {self.root} is not a folder; point it at the recordings.")
        if not self.csv_path.is_file():
            raise DataError(
                f"data.csv_path: {self.csv_path} does not exist. Give the CSV that names each "
                f"recording ({self.file_column}) and its targets "
                f"({', '.join(self.target_columns)})."
            )
        with self.csv_path.open(newline="") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in reader.fieldnames or []]
            reader.fieldnames = columns
            wanted = [("data.file_column", self.file_column)]
            wanted += [("data.target_columns", c) for c in self.target_columns]
            for key, column in wanted:
                if column not in columns:
                    raise DataError(
                        f"{self.csv_path} has no column '{column}' ({key}); its columns are "
                        f"{columns}. Name the right column in {key}."
                    )
            rows = list(reader)
        if not rows:
            raise DataError(f"{self.csv_path} lists no recordings; add a row per file.")
        files, names, targets = [], [], []
        for line, row in enumerate(rows, start=2):
            where = f"{self.csv_path} line {line}"
            name = (row[self.file_column] or "").strip()
            path = listed_file(self.root, name, where, "data.root")
            if not path.is_file():
                raise DataError(
                    f"{where} names {name}, but {path} does not exist. Fix the CSV's "
                    f"{self.file_column} column or data.root."
                )
            if path.suffix.lower() not in AUDIO_SUFFIXES:
                raise DataError(
                    f"{where} names {name}, which is not a recording shiftlab reads "
                    f"({', '.join(AUDIO_SUFFIXES)}); convert it or drop the row."
                )
            targets.append([_number(row[c], where, c) for c in self.target_columns])
            files.append(path)
            names.append(name)
        self.files, self.names = files, names
        self.columns = {column: [row.get(column) or "" for row in rows] for column in columns}
        self.targets = np.asarray(targets, dtype=np.float32)

    def _frame_f0(self, path: Path, samples: int) -> np.ndarray | None:
        pitch_file = path.with_name(path.name[: -len(path.suffix)] + PITCH_FILE_SUFFIX)
        if not pitch_file.is_file():
            return None
        times, f0 = read_pitch_file(pitch_file)
        centres = frame_centres(samples, self.hop_length) / self.sample_rate
        return pitch_at(times, f0, centres)


def read_pitch_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, f0 in Hz) of a pitch file: ``time,f0`` per line (commas or spaces; a
    header line is skipped), times increasing."""
    times, values = [], []
    for line, text in enumerate(path.read_text().splitlines(), start=1):
        fields = text.replace(",", " ").split()
        if not fields or (line == 1 and not _is_number(fields[0])):
            continue
        if len(fields) < 2 or not all(_is_number(v) for v in fields[:2]):
            raise DataError(
                f"{path} line {line} reads {text!r}; a pitch file has a time (s) and an f0 (Hz, "
                "0 where unvoiced) per line. Fix the line."
            )
        times.append(float(fields[0]))
        values.append(float(fields[1]))
    if not times or np.any(np.diff(times) <= 0) or not np.isfinite(values).all():
        raise DataError(
            f"{path} holds no pitch, or its times do not increase, or an f0 is not finite; "
            "write one time,f0 line per frame, in order."
        )
    return np.asarray(times), np.maximum(np.asarray(values), 0.0)


def pitch_at(times: np.ndarray, f0: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The pitch at times ``at``: interpolated between voiced neighbours, 0 where the nearest
    given frame is unvoiced or ``at`` lies outside the file's times."""
    nearest = np.clip(np.searchsorted(times, at), 1, len(times) - 1)
    before = np.abs(at - times[nearest - 1]) <= np.abs(times[nearest] - at)
    nearest = np.where(before, nearest - 1, nearest)
    voiced = f0 > 0
    out = np.zeros(len(at), dtype=np.float32)
    if voiced.any():
        out[:] = np.interp(at, times[voiced], f0[voiced])
    spacing = np.median(np.diff(times)) if len(times) > 1 else 0.0
    inside = (at >= times[0] - spacing) & (at <= times[-1] + spacing)
    return np.where(voiced[nearest] & inside, out, 0.0).astype(np.float32)


class DrumsSynth(LabelledAudioDataModule):
    """Struck circular and rectangular membranes by modal synthesis
    (:mod:`shiftlab.data.synthetic_drums`), with their physical parameters as targets: no
    download. Drum ``i`` depends only on ``(data_seed, i)``: train is ``[0, num_train)``, val
    and test follow.

    Args:
        target_columns: any of ``size`` (m), ``aspect``, ``damping`` (1/s), ``rectangular``
            (0 or 1).
        num_train, num_val, num_test: drums per split.
        data_seed: the synthesiser's seed (separate from the run's seed).
        size, aspect, damping, rectangular_share, snr_db: the ranges drawn from (see
            :class:`~shiftlab.data.synthetic_drums.DrumSynthesis`).
        Other arguments: see :class:`LabelledAudioDataModule`.
    """

    def __init__(
        self,
        target_columns: Sequence[str] = ("size", "aspect"),
        num_train: int = 1024,
        num_val: int = 128,
        num_test: int = 128,
        data_seed: int = 1234,
        size: Sequence[float] = (0.2, 0.8),
        aspect: Sequence[float] = (1.0, 2.0),
        damping: Sequence[float] = (3.0, 15.0),
        rectangular_share: float = 0.5,
        snr_db: Sequence[float] = (30.0, 50.0),
        **kwargs: Any,
    ) -> None:
        super().__init__(target_columns=target_columns, **kwargs)
        unknown = [c for c in self.target_columns if c not in PARAMETERS]
        if unknown:
            raise ConfigError(
                f"data.target_columns names {unknown}, which synthetic drums do not have; "
                f"choose from {', '.join(PARAMETERS)}."
            )
        self.counts = {"train": num_train, "val": num_val, "test": num_test}
        self.data_seed = data_seed
        self.synthesis = DrumSynthesis(
            self.sample_rate, self.clip_samples / self.sample_rate, _pair(size, "size"),
            _pair(aspect, "aspect"), _pair(damping, "damping"), rectangular_share,
            _pair(snr_db, "snr_db"),
        )  # fmt: skip

    def split_indices(self) -> dict[str, list[int]]:
        return self.folds.apply(consecutive_splits(self.counts), _index_names(self.counts))

    def load(self, index: int, epoch: int) -> Clip:
        drum = self.synthesis.drum(self.data_seed, index)
        return Clip(drum.samples, self._targets(drum.parameters))

    def targets_of(self, indices: Sequence[int]) -> np.ndarray:
        return np.stack([self._targets(self.synthesis.parameters(self.data_seed, i))
                         for i in indices])  # fmt: skip

    def _targets(self, parameters: dict[str, float]) -> np.ndarray:
        return np.asarray([parameters[c] for c in self.target_columns], dtype=np.float32)


class TonesSynth(LabelledAudioDataModule):
    """Notes of known pitch (:mod:`shiftlab.data.synthetic_tones`): steady and gliding, with
    and without vibrato, of varied timbre, in noise, with silence around them; the target
    ``f0`` is each note's median pitch and every frame's pitch is known. No download.

    Args:
        num_train, num_val, num_test: notes per split.
        data_seed: the synthesiser's seed (separate from the run's seed).
        f0, glide_share, glide_cents, vibrato_share, snr_db: see
            :class:`~shiftlab.data.synthetic_tones.ToneSynthesis`.
        Other arguments: see :class:`LabelledAudioDataModule`.
    """

    def __init__(
        self,
        num_train: int = 1024,
        num_val: int = 64,
        num_test: int = 64,
        data_seed: int = 4321,
        f0: Sequence[float] = (60.0, 1000.0),
        glide_share: float = 0.5,
        glide_cents: float = 700.0,
        vibrato_share: float = 0.3,
        snr_db: Sequence[float] = (10.0, 40.0),
        target_columns: Sequence[str] = ("f0",),
        **kwargs: Any,
    ) -> None:
        super().__init__(target_columns=target_columns, **kwargs)
        if self.target_columns != ["f0"]:
            raise ConfigError(
                f"data.target_columns={self.target_columns}: synthetic notes have one target, "
                "f0 (Hz); keep data.target_columns=[f0]."
            )
        self.counts = {"train": num_train, "val": num_val, "test": num_test}
        self.data_seed = data_seed
        self.synthesis = ToneSynthesis(
            self.sample_rate, self.clip_samples / self.sample_rate, self.hop_length,
            _pair(f0, "f0"), glide_share, glide_cents, vibrato_share, _pair(snr_db, "snr_db"),
        )  # fmt: skip

    def split_indices(self) -> dict[str, list[int]]:
        return self.folds.apply(consecutive_splits(self.counts), _index_names(self.counts))

    def load(self, index: int, epoch: int) -> Clip:
        note = self.synthesis.note(self.data_seed, index)
        return Clip(note.samples, np.asarray([note.f0], dtype=np.float32), note.frame_f0)

    def targets_of(self, indices: Sequence[int]) -> np.ndarray:
        return np.stack([self.load(i, 0).targets for i in indices])


def _index_names(counts: dict[str, int]) -> list[str]:
    """Synthetic items are named by their index (what ``data.group_by`` patterns see)."""
    return [str(i) for i in range(sum(int(c) for c in counts.values()))]


def _pair(values: Sequence[float], name: str) -> tuple[float, float]:
    values = list(values)
    if len(values) != 2:
        raise ConfigError(f"data.{name}={values}: give a range of two numbers, [low, high].")
    return float(values[0]), float(values[1])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str | None, where: str, column: str) -> float:
    value = (text or "").strip()
    if not _is_number(value) or not math.isfinite(float(value)):
        raise DataError(
            f"{where}: the target {column} is {value!r}, not a finite number. Targets are "
            "numbers (Hz for a pitch, metres for a size, ...); fix the value or drop the row."
        )
    return float(value)
