"""Image classification."""

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
    MulticlassPrecision,
    MulticlassRecall,
)

from shiftlab.tasks.base import OptimizerFactory, SchedulerFactory, Task
from shiftlab.tasks.reports import PerClassReporting
from shiftlab.visuals import displayable, framed, sample_grid


class ImageClassification(PerClassReporting, Task):
    """Predict one class per image.

    Batches are dicts with ``image`` (N × C × H × W) and ``label`` (N). Metrics for
    ``val/`` and ``test/``: ``accuracy``; ``precision``, ``recall`` and ``f1`` averaged over
    classes (macro) and per class (``val/f1/<class>``); ``top<k>_accuracy`` when there are
    more than 5 classes. On test: the confusion matrix (TensorBoard image, PNG and CSV in the
    run directory), a per-class table, and a grid of misclassified images.

    Args:
        net, optimizer, schedulers, monitor, monitor_mode, channels_last: see
            :class:`~shiftlab.tasks.Task`.
        num_classes: classes to predict (from the data).
        class_names: one name per class (from the data).
        label_smoothing: cross-entropy label smoothing (0 for none).
        class_weights: a cross-entropy weight per class, e.g. to favour rare classes.
        num_misclassified: how many misclassified test images to show.
    """

    kind = "classification"

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        schedulers: Mapping[str, SchedulerFactory] | None = None,
        num_classes: int = 2,
        class_names: Sequence[str] | None = None,
        label_smoothing: float = 0.0,
        class_weights: Sequence[float] | None = None,
        num_misclassified: int = 16,
        monitor: str = "val/accuracy",
        monitor_mode: Literal["min", "max"] = "max",
        channels_last: bool = True,
    ) -> None:
        super().__init__(net, optimizer, schedulers, monitor, monitor_mode, channels_last)
        if class_weights is not None and len(class_weights) != num_classes:
            raise ValueError(
                f"task.class_weights has {len(class_weights)} values for {num_classes} classes."
            )
        self.num_classes = num_classes
        self.class_names = list(class_names or [f"class_{i}" for i in range(num_classes)])
        weight = torch.tensor(list(class_weights), dtype=torch.float32) if class_weights else None
        self.criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)
        self.top_k = 5 if num_classes > 5 else None
        self.val_metrics = self._metrics()
        self.test_metrics = self._metrics()
        self.test_confusion = MulticlassConfusionMatrix(num_classes)
        self.num_misclassified = num_misclassified
        self._misclassified: list[tuple[torch.Tensor, int, int]] = []

    def _metrics(self) -> MetricCollection:
        k = self.num_classes
        metrics: dict[str, Any] = {
            "accuracy": MulticlassAccuracy(k, average="micro"),
            "precision": MulticlassPrecision(k, average="none"),
            "recall": MulticlassRecall(k, average="none"),
            "f1": MulticlassF1Score(k, average="none"),
        }
        if self.top_k:
            metrics[f"top{self.top_k}_accuracy"] = MulticlassAccuracy(
                k, average="micro", top_k=self.top_k
            )
        return MetricCollection(metrics)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits = self(batch["image"])
        loss = self.criterion(logits, batch["label"])
        return self.log_training_loss(loss, batch["image"].shape[0])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        return self._evaluate(batch, self.val_metrics, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        out = self._evaluate(batch, self.test_metrics, "test")
        predicted = out["logits"].argmax(dim=1)
        self.test_confusion.update(predicted, batch["label"])
        wrong = torch.nonzero(predicted != batch["label"]).flatten()
        for i in wrong[: max(0, self.num_misclassified - len(self._misclassified))].tolist():
            self._misclassified.append(
                (batch["image"][i].detach().cpu(), int(batch["label"][i]), int(predicted[i]))
            )
        return out

    def _evaluate(self, batch, metrics: MetricCollection, stage: str) -> dict[str, Any]:
        logits = self(batch["image"])
        loss = self.criterion(logits, batch["label"])
        metrics.update(logits, batch["label"])
        self.log(f"{stage}/loss", loss, on_epoch=True, sync_dist=True, batch_size=logits.shape[0])
        return {"logits": logits.detach()}

    def on_validation_epoch_end(self) -> None:
        self.log_class_metrics(self.val_metrics, "val")

    def on_test_epoch_start(self) -> None:
        self._misclassified = []

    def on_test_epoch_end(self) -> None:
        per_class = self.log_class_metrics(self.test_metrics, "test")
        self.write_test_report(self.test_confusion, per_class)
        if self.trainer.is_global_zero:
            self._log_misclassified()

    def _log_misclassified(self) -> None:
        """A grid of misclassified test images, titled in the tag by true → predicted."""
        if not self._misclassified:
            return
        panels = [displayable(image.float().numpy()) for image, _, _ in self._misclassified]
        per_row = 8
        rows = [panels[i : i + per_row] for i in range(0, len(panels), per_row)]
        if len(rows) > 1 and len(rows[-1]) < per_row:
            blank = np.ones_like(panels[0])
            rows[-1] = rows[-1] + [blank] * (per_row - len(rows[-1]))
        grid = sample_grid(rows)
        caption = "; ".join(
            f"{self.class_names[t]}→{self.class_names[p]}" for _, t, p in self._misclassified
        )
        for logger in self.loggers:
            experiment = logger.experiment
            if hasattr(experiment, "add_image"):
                experiment.add_image(
                    "test/misclassified", grid, self.global_step, dataformats="HWC"
                )
                experiment.add_text(
                    "test/misclassified_true_to_predicted", caption, self.global_step
                )

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self(batch["image"]).softmax(dim=1)

    def validation_images(
        self, batch: dict[str, torch.Tensor], outputs: dict[str, Any], num_samples: int
    ) -> dict[str, np.ndarray]:
        """The first validation images, framed green when predicted right and red when wrong."""
        predicted = outputs["logits"].argmax(dim=1)
        panels = []
        for k in range(min(num_samples, batch["image"].shape[0])):
            right = bool(predicted[k] == batch["label"][k])
            image = displayable(batch["image"][k].detach().float().cpu().numpy())
            panels.append(framed(image, (0.1, 0.8, 0.2) if right else (0.9, 0.1, 0.1)))
        return {"val/samples_green_right_red_wrong": sample_grid([panels])}
