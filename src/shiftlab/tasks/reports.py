"""Test reports shared by the classification tasks: confusion matrix and per-class table."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from shiftlab.visuals import confusion_matrix_image


def metric_key(class_name: str) -> str:
    """A class name as one level of a metric name (``T-shirt/top`` → ``T-shirt_top``)."""
    return "_".join(class_name.replace("/", " ").split())


def write_class_report(
    out_dir: Path,
    matrix: np.ndarray,
    class_names: Sequence[str],
    per_class: Mapping[str, np.ndarray],
    loggers: Sequence,
    step: int,
) -> None:
    """Log the confusion matrix as an image, and write ``confusion_matrix.png``/``.csv`` and
    ``test_per_class.csv``/``.md`` (one row per class: each metric, and its sample count)."""
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    image = confusion_matrix_image(matrix, class_names)
    for logger in loggers:
        if hasattr(logger.experiment, "add_image"):
            logger.experiment.add_image("test/confusion_matrix", image, step, dataformats="HWC")
    Image.fromarray(image).save(out_dir / "confusion_matrix.png")
    with (out_dir / "confusion_matrix.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["true \\ predicted", *class_names])
        for name, row in zip(class_names, matrix.astype(int), strict=True):
            writer.writerow([name, *row.tolist()])
    support = matrix.sum(axis=1).astype(int)
    metrics = list(per_class)
    with (out_dir / "test_per_class.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class", *metrics, "support"])
        for i, name in enumerate(class_names):
            writer.writerow([name, *(f"{per_class[m][i]:.4f}" for m in metrics), support[i]])
    lines = ["| class | " + " | ".join(metrics) + " | support |"]
    lines.append("|---" * (len(metrics) + 2) + "|")
    for i, name in enumerate(class_names):
        values = " | ".join(f"{per_class[m][i]:.3f}" for m in metrics)
        lines.append(f"| {name} | {values} | {support[i]} |")
    (out_dir / "test_per_class.md").write_text("\n".join(lines) + "\n")


class PerClassReporting:
    """Logging and test reports for tasks with named classes (segmentation, classification).

    The task provides ``class_names`` and Lightning's ``log``, ``trainer``, ``loggers`` and
    ``global_step``.
    """

    def log_class_metrics(self, metrics, stage: str) -> dict[str, np.ndarray]:
        """Compute and reset ``metrics``; log scalars as they are and per-class vectors as
        their mean over classes (``val/iou``) and one value per class (``val/iou/<class>``).
        Returns the per-class vectors (for the test table)."""
        values = metrics.compute()
        metrics.reset()
        per_class = {}
        for name, value in values.items():
            value = value.float()
            if value.dim() == 0:
                self.log(f"{stage}/{name}", value)
                continue
            per_class[name] = value.cpu().numpy()
            present = value[~torch.isnan(value)]  # classes absent from the data are NaN
            self.log(
                f"{stage}/{name}", present.mean() if present.numel() else value.new_tensor(0.0)
            )
            for cls, v in zip(self.class_names, value, strict=True):
                self.log(f"{stage}/{name}/{metric_key(cls)}", v)
        return per_class

    def write_test_report(self, confusion, per_class: Mapping[str, np.ndarray]) -> None:
        """Compute and reset the ``confusion`` metric; rank zero writes :func:`write_class_report`
        into the run directory."""
        matrix = confusion.compute().cpu().numpy()
        confusion.reset()
        if self.trainer.is_global_zero:
            out_dir = Path(self.trainer.default_root_dir)
            write_class_report(
                out_dir, matrix, self.class_names, per_class, self.loggers, self.global_step
            )
