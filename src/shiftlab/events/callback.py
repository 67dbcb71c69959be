"""The Lightning callback that turns a fit's progress into run events: one per validation
epoch (its metrics) and one per checkpoint file written."""

from __future__ import annotations

import os
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from shiftlab.events.run_events import RunEvents


class RunEventsCallback(L.Callback):
    """Emits ``validation_epoch`` and ``checkpoint_written`` events of ``events``."""

    def __init__(self, events: RunEvents) -> None:
        self.events = events
        self.checkpoints_seen: set[tuple[str, int]] = set()  # (path, modification time)

    # after the task's own on_validation_epoch_end (which logs the epoch-level metrics, IoU
    # and the like): a callback's epoch-end hook runs before it and would see the last epoch's
    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        self.events.emit("validation_epoch", epoch=trainer.current_epoch,
                         global_step=trainer.global_step,
                         metrics=numbers(trainer.callback_metrics))  # fmt: skip

    # ModelCheckpoint writes after every other callback's hooks of the epoch have run, so
    # the files of an epoch are looked for when the next one starts, and when the fit ends
    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._new_checkpoints(trainer)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._new_checkpoints(trainer)

    def _new_checkpoints(self, trainer: L.Trainer) -> None:
        if not trainer.is_global_zero:
            return
        for callback in trainer.checkpoint_callbacks:
            if not isinstance(callback, ModelCheckpoint):
                continue
            score = callback.best_model_score
            for path in dict.fromkeys((callback.best_model_path, callback.last_model_path)):
                if not path or not os.path.exists(path):
                    continue
                written = (path, os.stat(path).st_mtime_ns)  # last.ckpt is rewritten each epoch
                if written not in self.checkpoints_seen:
                    self.checkpoints_seen.add(written)
                    self.events.emit("checkpoint_written", epoch=max(0, trainer.current_epoch - 1),
                                     path=path, monitor=callback.monitor,
                                     score=float(score) if score is not None else None)  # fmt: skip


def numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The scalar metrics of a Lightning metrics dict, as plain floats."""
    out = {}
    for name, value in metrics.items():
        try:
            if getattr(value, "numel", lambda: 1)() == 1:
                out[name] = float(value)
        except (TypeError, ValueError):
            continue
    return dict(sorted(out.items()))
