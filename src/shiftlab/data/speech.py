"""Speech-enhancement items from waveforms: STFT features on the fly, random crops for
training, whole recordings for validation and test, and their batches.

An item holds the degraded input's and the clean target's spectrogram values (1 × F × T, in
the data's scale), the input's phase (to rebuild a waveform from a predicted magnitude) and
both waveforms (for waveform losses and metrics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from shiftlab.data.epoch_loaders import epoch_item
from shiftlab.data.spectrograms import pad_collate
from shiftlab.data.stft import STFT, features

# (degraded, clean) waveforms of item ``index`` for ``epoch`` (the degradation of clean-only
# data is drawn anew each epoch; recorded pairs ignore the epoch).
LoadPair = Callable[[int, int], tuple[np.ndarray, np.ndarray]]


class SpeechItems(Dataset):
    """Items of ``indices``, loaded by ``load`` and turned into features.

    Training items (``segment_frames`` set) are random crops of that many frames, drawn from
    ``(seed, epoch, index, repeat)``: the sampler hands ``(position, epoch)`` keys, so crops
    and degradations differ per epoch and repeat across runs, in any worker. ``repeats``
    crops of each recording make one epoch (more steps per epoch from a small corpus).
    Evaluation items are whole recordings (integer keys, epoch 0).
    """

    def __init__(
        self,
        load: LoadPair,
        indices: Sequence[int],
        stft: STFT,
        scale: str,
        segment_frames: int | None = None,
        seed: int = 0,
        repeats: int = 1,
    ) -> None:
        self.load = load
        self.indices = list(indices)
        self.repeats = repeats
        self.stft = stft
        self.scale = scale
        self.segment_frames = segment_frames
        self.seed = seed

    def __len__(self) -> int:
        return len(self.indices) * self.repeats

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch, repeat = epoch_item(key, self.indices)
        noisy, clean = self.load(index, epoch)
        if self.segment_frames is not None:
            rng = np.random.default_rng([self.seed, epoch, index, 3, repeat])
            noisy, clean = self._crop(noisy, clean, rng)
        x, phase = features(self.stft, noisy, self.scale)
        y, _ = features(self.stft, clean, self.scale)
        return {
            "input": torch.from_numpy(x)[None],
            "target": torch.from_numpy(y)[None],
            "phase": torch.from_numpy(phase)[None],
            "noisy": torch.from_numpy(noisy),
            "clean": torch.from_numpy(clean),
            "index": index,
        }

    def _crop(self, noisy: np.ndarray, clean: np.ndarray, rng: np.random.Generator):
        """A crop whose transform has exactly ``segment_frames`` frames (zero-padded when the
        recording is shorter), starting on a hop."""
        assert self.segment_frames is not None
        samples = self.stft.samples_for(self.segment_frames)
        hop = self.stft.hop_length
        spare = len(clean) - samples
        start = hop * int(rng.integers(0, spare // hop + 1)) if spare > 0 else 0
        out = []
        for wave in (noisy, clean):
            part = wave[start : start + samples]
            out.append(np.pad(part, (0, samples - len(part))) if len(part) < samples else part)
        return out[0], out[1]


def speech_collate(items: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Spectrogram batches as :func:`~shiftlab.data.spectrograms.pad_collate` makes them
    (``input``, ``target``, ``mask``, ``lengths``, ``index``), plus ``phase`` padded the same
    way and the waveforms ``noisy`` and ``clean`` zero-padded to the longest, with their
    lengths in ``samples``."""
    batch = pad_collate(items)
    longest = int(batch["lengths"].max())
    phase = items[0]["phase"].new_zeros((len(items), *items[0]["phase"].shape[:-1], longest))
    samples = torch.tensor([len(item["clean"]) for item in items])
    waves = {name: torch.zeros(len(items), int(samples.max())) for name in ("noisy", "clean")}
    for i, item in enumerate(items):
        phase[i, ..., : item["phase"].shape[-1]] = item["phase"]
        for name, wave in waves.items():
            wave[i, : len(item[name])] = item[name]
    return {**batch, "phase": phase, **waves, "samples": samples}
