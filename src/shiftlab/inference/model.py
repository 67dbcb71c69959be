"""The trained task as one module from input batch to output: what predict runs and what is
exported, so the checkpoint and the ONNX file give the same numbers."""

from __future__ import annotations

import torch
from torch import nn

from shiftlab.tasks.kinds import TaskKind


class InferenceModel(nn.Module):
    """Input batch in, predictions out, with the task's whole pre- and post-processing.

    The task's kind says what comes out (:attr:`TaskKind.model_returns`): its own ``values``
    (a regression's spectrograms in the data's scale: standardisation, padding to the
    network's size multiple and cropping happen inside the task), or class
    ``probabilities`` (softmax over classes; sigmoid per channel for binary and multilabel
    tasks).
    """

    def __init__(self, task: nn.Module, kind: TaskKind) -> None:
        super().__init__()
        self.task = task
        self.probabilities = kind.model_returns == "probabilities"
        self.sigmoid = getattr(task, "mode", "multiclass") in ("binary", "multilabel")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.task(x)
        if not self.probabilities:
            return out
        return out.sigmoid() if self.sigmoid else out.softmax(dim=1)
