"""The trained task as one module from input batch to output: what predict runs and what is
exported, so the checkpoint and the ONNX file give the same numbers."""

from __future__ import annotations

import torch
from torch import nn


class InferenceModel(nn.Module):
    """Input batch in, predictions out, with the task's whole pre- and post-processing.

    - regression: N×C×F×T spectrograms in, spectrograms out in the data's scale
      (standardisation, padding to the network's size multiple and cropping happen inside);
    - segmentation: N×C×H×W images (after the data's eval transforms) in, per-class
      probabilities N×K×H×W out (softmax; sigmoid for binary and multilabel);
    - classification: N×C×H×W images in, class probabilities N×K out.
    """

    def __init__(self, task: nn.Module, kind: str) -> None:
        super().__init__()
        self.task = task
        self.kind = kind
        self.sigmoid = getattr(task, "mode", "multiclass") in ("binary", "multilabel")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.task(x)
        if self.kind == "regression":
            return out
        return out.sigmoid() if self.sigmoid else out.softmax(dim=1)
