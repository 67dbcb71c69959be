"""Spectrogram metrics: scales, valid-frame selection and log-spectral distance in dB."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from shiftlab.spectral_scales import LINEAR_FLOOR, LINEAR_SCALES, LOG_SCALES, check_scale


def to_db(x: torch.Tensor, scale: str) -> torch.Tensor:
    """Convert spectrogram values of the given ``scale`` to decibels."""
    if scale in LOG_SCALES:
        return x * LOG_SCALES[scale]
    return LINEAR_SCALES[check_scale(scale)] * torch.log10(x.clamp_min(LINEAR_FLOOR))


def valid_frames(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Select the real (unpadded) frames of an N×C×F×T batch as a V×C×F tensor.

    ``mask`` is N×T and True on real frames; ``None`` means every frame is real.
    """
    frames = x.permute(0, 3, 1, 2)
    if mask is None:
        return frames.reshape(-1, *frames.shape[2:])
    return frames[mask]


class LogSpectralDistance(Metric):
    """Mean over frames of the RMS difference in dB across frequency (and channels).

    Takes V×C×F tensors of valid frames (see :func:`valid_frames`) in the given scale.
    """

    higher_is_better = False
    full_state_update = False

    def __init__(self, scale: str = "log10_magnitude", **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale = check_scale(scale)
        self.add_state(
            "total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state("frames", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        diff = to_db(preds.float(), self.scale) - to_db(target.float(), self.scale)
        per_frame = diff.pow(2).flatten(1).mean(dim=1).sqrt()
        self.total += per_frame.sum(dtype=torch.float64)
        self.frames += per_frame.numel()

    def compute(self) -> torch.Tensor:
        return (self.total / self.frames.clamp_min(1)).float()
