"""A network on whole waveform clips declared as a list of 1-D layers, for targets of a clip."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from shiftlab.models.classifiers import LayerClassifier


class WaveformLayers(LayerClassifier):
    """The 1-D layers given (``Conv1d``, ``BatchNorm1d``, ``MaxPool1d``, ``AdaptiveAvgPool1d``,
    ...), then a linear head to ``num_outputs`` whose input size is found by running the
    layers once on a silent clip of ``samples``: ``N × samples`` (or ``N × 1 × samples``) in,
    ``N × num_outputs`` out.

    Args:
        layers: the feature layers; the first takes ``in_channels`` (1: mono).
        num_outputs: values per clip (the task's targets; filled in from the data).
        samples: the clip length it is trained on (from the data). End the layers with a
            global pooling (``AdaptiveAvgPool1d``) to take clips of any length.
        in_channels: 1.
        head_dropout: dropout before the linear layer (0 for none).
    """

    output = "clip_vector"  # one vector per clip: audio regression
    input_name = "waveform"

    def __init__(
        self,
        layers: Sequence[nn.Module],
        num_outputs: int,
        samples: int,
        in_channels: int = 1,
        head_dropout: float = 0.0,
    ) -> None:
        super().__init__(layers, num_outputs, in_channels, (int(samples),), head_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x[:, None] if x.dim() == 2 else x)
