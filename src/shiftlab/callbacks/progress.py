"""Progress for whoever reads it: a live bar in a terminal; one line per epoch where stdout
is a file, a pipe, CI, ``nohup`` or a SLURM job (a bar there is kilobytes of redraws)."""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.callbacks.progress import ProgressBar

log = logging.getLogger("shiftlab.progress")


def console_progress(refresh_rate: int = 10, terminal: bool | None = None) -> ProgressBar:
    """The bar (redrawn every ``refresh_rate`` batches) when stdout is a terminal, else
    :class:`EpochLines`. ``terminal`` forces either (None: ask stdout)."""
    if terminal is None:
        terminal = sys.stdout.isatty()
    return TQDMProgressBar(refresh_rate=refresh_rate) if terminal else EpochLines()


class EpochLines(ProgressBar):
    """One log line per training epoch: its number, steps, time, the training loss, the
    monitored metric and its best so far::

        epoch 3/20: 32 steps in 4.1 s, train/loss 0.532, val/iou 0.712 (best 0.731, max)
    """

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._started = 0.0
        self._first_step = 0
        self._best: float | None = None

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._started = time.perf_counter()
        self._first_step = trainer.global_step

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self._enabled or not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        steps = trainer.global_step - self._first_step
        seconds = time.perf_counter() - self._started
        total = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        parts = [f"epoch {trainer.current_epoch}{total}: {steps} steps in {seconds:.1f} s"]
        loss = _number(metrics.get("train/loss_epoch", metrics.get("train/loss")))
        if loss is not None:
            parts.append(f"train/loss {loss:.4g}")
        monitor, mode = _monitor(trainer)
        value = _number(metrics.get(monitor)) if monitor else None
        if value is not None:
            if math.isfinite(value):
                better = min if mode == "min" else max
                self._best = value if self._best is None else better(self._best, value)
            best = f"best {self._best:.4g}, " if self._best is not None else ""
            parts.append(f"{monitor} {value:.4g} ({best}{mode})")
        log.info(", ".join(parts))


def _monitor(trainer: Trainer) -> tuple[str | None, str]:
    checkpoint = trainer.checkpoint_callback
    if isinstance(checkpoint, ModelCheckpoint) and checkpoint.monitor:
        return checkpoint.monitor, checkpoint.mode
    return None, "min"


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
