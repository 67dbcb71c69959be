"""TensorBoard's Custom Scalars layout for a run: the charts that answer the first
questions, in order. The monitored metric (with its baseline) first; training and
validation loss in one chart; each validation and test metric beside its baseline (the
do-nothing model's score); per-class metrics in a section of their own."""

from __future__ import annotations

import re
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

BASELINE = "_baseline"


def scalar_layout(names: list[str], monitor: str | None, mode: str | None) -> dict[str, Any]:
    """The layout (``{category: {chart: ["Multiline", [tag regexes]]}}``) for a run that logs
    the validation metrics ``names``; test metrics are expected under the same names."""

    def exact(tag: str) -> str:
        return f"^{re.escape(tag)}$"

    names = sorted(set(names))
    layout: dict[str, Any] = {}
    if monitor:
        title = f"{monitor} ({mode})" if mode else monitor
        layout["Monitored"] = {title: ["Multiline", [exact(monitor), exact(monitor + BASELINE)]]}
    layout["Loss"] = {"train and validation loss": [
        "Multiline", [exact("train/loss_epoch"), exact("val/loss")]]}  # fmt: skip
    overall = [n for n in names if n.startswith("val/") and n.count("/") == 1
               and not n.endswith((BASELINE, "_best")) and n != "val/loss"]  # fmt: skip
    per_class = sorted({n.rsplit("/", 1)[0] for n in names
                        if n.startswith("val/") and n.count("/") >= 2})  # fmt: skip
    for stage, category in (("val", "Validation against baseline"),
                            ("test", "Test against baseline")):  # fmt: skip
        charts = {}
        for name in overall:
            tag = stage + name[len("val") :]
            charts[tag] = ["Multiline", [exact(tag), exact(tag + BASELINE)]]
        if charts:
            layout[category] = charts
    if per_class:
        layout["Per class"] = {
            f"{stage}{parent[len('val'):]} per class":
                ["Multiline", [f"^{re.escape(stage + parent[len('val'):])}/"]]
            for parent in per_class for stage in ("val", "test")
        }  # fmt: skip
    return layout


class ScalarLayout(Callback):
    """Writes :func:`scalar_layout` once, after the first validation epoch (when the metric
    names are known), into the run's TensorBoard log (the Custom Scalars tab)."""

    def __init__(self) -> None:
        self.written = False

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.written or trainer.sanity_checking or not trainer.is_global_zero:
            return
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if not loggers:
            return
        checkpoint = trainer.checkpoint_callback
        monitor = mode = None
        if isinstance(checkpoint, ModelCheckpoint) and checkpoint.monitor:
            monitor, mode = checkpoint.monitor, checkpoint.mode
        layout = scalar_layout(list(trainer.callback_metrics), monitor, mode)
        for logger in loggers:
            logger.experiment.add_custom_scalars(layout)
        self.written = True
