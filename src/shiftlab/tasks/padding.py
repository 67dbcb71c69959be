"""Pad inputs to the size multiple a network needs, and crop its outputs back.

Networks declare ``size_multiple = (height_multiple, width_multiple)`` (an SMP U-Net needs
multiples of 32, the TSConv U-Net a multiple of 2**depth in frequency and any length in
time); tasks pad with zeros at the bottom and right and crop the prediction to the input's
size, so no user resizes data by hand.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(
    x: torch.Tensor, multiple: tuple[int, int] | None
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Zero-pad the last two axes of ``x`` up to multiples; return it and the original size."""
    height, width = x.shape[-2:]
    if not multiple:
        return x, (height, width)
    pad_h = -height % int(multiple[0])
    pad_w = -width % int(multiple[1])
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h))
    return x, (height, width)


def crop_to(y: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop the last two axes of ``y`` to ``size`` (undoing :func:`pad_to_multiple`)."""
    height, width = size
    if y.shape[-2:] == (height, width):
        return y
    return y[..., :height, :width]
