"""Audio clips with targets, for pitch and sound-to-parameter tasks: fixed-length clips (random
crops for training, the start of each recording for evaluation), their targets, and the
pitch of every frame where the data knows it.

An item holds ``audio`` (the clip's samples), ``targets`` (one value per target column),
``frame_f0`` (the pitch of each frame, frame ``i`` centred on sample ``i * hop``: Hz, 0 where
unvoiced, NaN where the data gives no per-frame pitch and the clip's own target stands for
it) and ``index``. Items are loaded when asked for: memory holds a batch, not the corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from shiftlab.data.epoch_loaders import epoch_item
from shiftlab.data.frames import frame_count


@dataclass(frozen=True)
class Clip:
    """A whole recording with its targets; ``frame_f0`` per frame of the whole recording
    (``frame_count(len(samples), hop)`` values), or None where the data has none."""

    samples: np.ndarray
    targets: np.ndarray
    frame_f0: np.ndarray | None = None


# Recording ``index`` (the epoch lets synthetic data vary per epoch; files ignore it).
LoadClip = Callable[[int, int], Clip]


class LabelledClips(Dataset):
    """Items of ``indices``: clips of ``clip_samples`` loaded by ``load``.

    Training crops (``train``) start on a random hop, drawn from ``(seed, epoch, index,
    repeat)``: the sampler hands ``(position, epoch)`` keys, so crops differ per epoch and
    repeat across runs; ``repeats`` crops of each recording make one epoch. Evaluation clips
    are the start of each recording. Shorter recordings are padded with silence (unvoiced).
    """

    def __init__(
        self,
        load: LoadClip,
        indices: Sequence[int],
        clip_samples: int,
        hop_length: int,
        train: bool = False,
        seed: int = 0,
        repeats: int = 1,
    ) -> None:
        self.load = load
        self.indices = list(indices)
        self.clip_samples = clip_samples
        self.hop_length = hop_length
        self.train = train
        self.seed = seed
        self.repeats = repeats

    def __len__(self) -> int:
        return len(self.indices) * self.repeats

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch, repeat = epoch_item(key, self.indices)
        clip = self.load(index, epoch)
        start = 0
        spare = len(clip.samples) - self.clip_samples
        if self.train and spare > 0:
            rng = np.random.default_rng([self.seed, epoch, index, 5, repeat])
            start = self.hop_length * int(rng.integers(0, spare // self.hop_length + 1))
        audio = clip.samples[start : start + self.clip_samples]
        audio = np.pad(audio, (0, self.clip_samples - len(audio)))
        return {
            "audio": torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)),
            "targets": torch.from_numpy(clip.targets.astype(np.float32)),
            "frame_f0": torch.from_numpy(self._frame_f0(clip, start)),
            "index": index,
        }

    def _frame_f0(self, clip: Clip, start: int) -> np.ndarray:
        frames = frame_count(self.clip_samples, self.hop_length)
        first = start // self.hop_length
        out = np.full(frames, np.nan, dtype=np.float32)
        if clip.frame_f0 is not None:
            known = clip.frame_f0[first : first + frames]
            out[: len(known)] = known
        # frames centred past the recording's end hear only padding: unvoiced
        centres = start + self.hop_length * np.arange(frames)
        out[centres >= len(clip.samples)] = 0.0
        return out
