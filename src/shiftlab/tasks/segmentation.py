"""Semantic segmentation: binary, multiclass and multilabel masks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassJaccardIndex,
    MultilabelAccuracy,
    MultilabelF1Score,
    MultilabelJaccardIndex,
)

from shiftlab.tasks.base import OptimizerFactory, SchedulerFactory, Task
from shiftlab.tasks.reports import PerClassReporting
from shiftlab.tasks.segmentation_losses import make_segmentation_loss
from shiftlab.visuals import class_colours, displayable, overlay, sample_grid

Mode = Literal["binary", "multiclass", "multilabel"]


class SemanticSegmentation(PerClassReporting, Task):
    """Predict a class for every pixel.

    Batches are dicts with ``image`` (N × C × H × W) and ``mask``: N × H × W class indices
    for ``multiclass`` and ``binary`` (0/1), N × K × H × W zeros and ones for ``multilabel``.

    Metrics for ``val/`` and ``test/``: ``iou`` and ``dice`` averaged over classes (mean IoU,
    mean Dice) and per class (``val/iou/<class>``), and ``pixel_accuracy``. Binary masks are
    scored as two classes, background and foreground. On test, the confusion matrix is logged
    as an image and saved with a per-class table in the run directory.

    Args:
        net, optimizer, schedulers, monitor, monitor_mode, channels_last: see
            :class:`~shiftlab.tasks.Task`.
        mode: ``multiclass`` (one class per pixel), ``binary`` (one output channel,
            foreground vs background) or ``multilabel`` (independent channels).
        num_classes: classes including background (2 for binary); labels for multilabel.
        class_names: one name per class for metric names and tables.
        loss: ``ce``, ``bce``, ``dice``, ``jaccard``, ``focal``, ``lovasz``, ``tversky``; a
            weighted sum as a mapping, e.g. ``{dice: 1.0, ce: 1.0}``; or a loss module.
        ignore_index: a mask value that counts in neither loss nor metrics.
        class_weights: a weight per class for the losses that take them (ce, dice,
            jaccard, focal, tversky), e.g. to favour rare classes.
    """

    kind = "segmentation"

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        schedulers: Mapping[str, SchedulerFactory] | None = None,
        mode: Mode = "multiclass",
        num_classes: int = 2,
        class_names: Sequence[str] | None = None,
        loss: str | Mapping[str, float] | nn.Module = "ce",
        ignore_index: int | None = None,
        class_weights: Sequence[float] | None = None,
        monitor: str = "val/iou",
        monitor_mode: Literal["min", "max"] = "max",
        channels_last: bool = True,
    ) -> None:
        super().__init__(net, optimizer, schedulers, monitor, monitor_mode, channels_last)
        if mode not in ("binary", "multiclass", "multilabel"):
            raise ValueError(f"task.mode must be binary, multiclass or multilabel, got {mode!r}.")
        if class_weights is not None and len(class_weights) != num_classes:
            raise ValueError(
                f"task.class_weights has {len(class_weights)} values for {num_classes} classes."
            )
        self.mode = mode
        self.num_classes = num_classes
        self.class_names = list(class_names or [f"class_{i}" for i in range(num_classes)])
        self.ignore_index = ignore_index
        self.criterion = make_segmentation_loss(loss, mode, ignore_index, class_weights)
        self.val_metrics = self._metrics()
        self.test_metrics = self._metrics()
        self.test_confusion = (
            None
            if mode == "multilabel"
            else MulticlassConfusionMatrix(num_classes, ignore_index=ignore_index)
        )

    def _metrics(self) -> MetricCollection:
        if self.mode == "multilabel":
            k = self.num_classes
            return MetricCollection(
                {
                    "iou": MultilabelJaccardIndex(
                        k, average="none", ignore_index=self.ignore_index
                    ),
                    "dice": MultilabelF1Score(k, average="none", ignore_index=self.ignore_index),
                    "pixel_accuracy": MultilabelAccuracy(
                        k, average="micro", ignore_index=self.ignore_index
                    ),
                }
            )
        k, ignore = self.num_classes, self.ignore_index
        return MetricCollection(
            {
                "iou": MulticlassJaccardIndex(k, average="none", ignore_index=ignore),
                "dice": MulticlassF1Score(k, average="none", ignore_index=ignore),
                "pixel_accuracy": MulticlassAccuracy(k, average="micro", ignore_index=ignore),
            }
        )

    # -- targets and predictions ---------------------------------------------------------

    def _loss_target(self, mask: torch.Tensor) -> torch.Tensor:
        return mask.unsqueeze(1).float() if self.mode == "binary" else mask

    def predict_labels(self, logits: torch.Tensor) -> torch.Tensor:
        """Class indices (N × H × W) from logits; 0/1 channels (N × K × H × W) for multilabel."""
        if self.mode == "multiclass":
            return logits.argmax(dim=1)
        labels = (logits > 0).long()
        return labels[:, 0] if self.mode == "binary" else labels

    # -- steps ---------------------------------------------------------------------------

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits = self(batch["image"])
        loss = self.criterion(logits, self._loss_target(batch["mask"]))
        return self.log_training_loss(loss, batch["image"].shape[0])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        return self._evaluate(batch, self.val_metrics, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        out = self._evaluate(batch, self.test_metrics, "test")
        if self.test_confusion is not None:
            self.test_confusion.update(out["labels"], batch["mask"])
        return out

    def _evaluate(self, batch, metrics: MetricCollection, stage: str) -> dict[str, Any]:
        logits = self(batch["image"])
        loss = self.criterion(logits, self._loss_target(batch["mask"]))
        labels = self.predict_labels(logits)
        metrics.update(labels, batch["mask"])
        self.log(f"{stage}/loss", loss, on_epoch=True, sync_dist=True, batch_size=logits.shape[0])
        return {"labels": labels.detach()}

    def on_validation_epoch_end(self) -> None:
        self.log_class_metrics(self.val_metrics, "val")

    def on_test_epoch_end(self) -> None:
        per_class = self.log_class_metrics(self.test_metrics, "test")
        if self.test_confusion is not None:
            self.write_test_report(self.test_confusion, per_class)

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.predict_labels(self(batch["image"]))

    def validation_images(
        self, batch: dict[str, torch.Tensor], outputs: dict[str, Any], num_samples: int
    ) -> dict[str, np.ndarray]:
        """One grid: a row per sample of image | true mask | predicted mask (overlays)."""
        if self.mode == "multilabel":
            return {}
        colours = class_colours(self.num_classes)
        rows = []
        for k in range(min(num_samples, batch["image"].shape[0])):
            image = displayable(batch["image"][k].detach().float().cpu().numpy())
            truth = batch["mask"][k].cpu().numpy()
            predicted = outputs["labels"][k].cpu().numpy()
            rows.append([image, overlay(image, truth, colours), overlay(image, predicted, colours)])
        return {"val/samples/image_true_predicted": sample_grid(rows)}
