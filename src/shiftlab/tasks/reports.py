"""Test reports shared by the classification tasks: confusion matrix and per-class table."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

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
