"""Lightning callbacks that time training from inside a ``shiftlab train`` run: the
benchmarks add one as one more callback (``+callbacks.step_timer._target_=...``), so nothing
else in the run changes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lightning.pytorch.callbacks import Callback


class StepTimer(Callback):
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.epochs: list[list[float]] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.epochs.append([])

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if not self.epochs[-1]:  # the first step's start: its batch is loaded already
            self.epochs[-1].append(time.perf_counter())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.epochs[-1].append(time.perf_counter())

    def on_train_end(self, trainer, pl_module) -> None:
        self.path.write_text(json.dumps(self.epochs))


def seconds_per_step(times: list[float]) -> float:
    """Time per step over an epoch: ``times`` is the first step's start (its batch already
    loaded), then the end of every step.

    The span holds every step's forward, backward, optimizer, logging and progress-bar work
    and the loading of every batch but the first, and none of the epoch's start (loader
    set-up) or end (validation, checkpoint).
    """
    if len(times) < 2:
        raise ValueError("need at least one timed step")
    return (times[-1] - times[0]) / (len(times) - 1)


class FirstStepExit(Callback):
    """Write the wall-clock time (``time.time()``, comparable across processes) at the end
    of the first training step to ``path``, then end the process: what start-up costs a user
    is the wait until training is under way."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.path.write_text(repr(time.time()))
        import os

        os._exit(0)


class EpochProfiler(Callback):
    """cProfile of the training steps of one epoch (``epoch``, 0-based), from the first
    step's start to the last step's end, written to ``path`` (pstats format)."""

    def __init__(self, path: str, epoch: int = 1) -> None:
        import cProfile

        self.path, self.epoch = Path(path), epoch
        self.profile = cProfile.Profile()
        self.running = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and not self.running:
            self.running = True
            self.profile.enable()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.running:
            self.running = False
            self.profile.disable()
            self.profile.dump_stats(self.path)

    def on_validation_start(self, trainer, pl_module) -> None:
        self.on_train_epoch_end(trainer, pl_module)  # validation is not a training step


class PairedHandWritten(Callback):
    """Runs one hand-written step (``bench/hand_loop.py``, its own network, optimizer and
    loader built from this run's resolved config) after each of the run's training steps,
    and times both: each pair of steps runs side by side in time, so a slow spell of the
    machine hits both alike. Writes ``{"framework": [...], "hand": [...]}`` (seconds per step,
    the timed epoch's steps after its first) to ``path``.

    A framework step is timed from the end of the previous hand step to the end of its own
    (Lightning's hooks, logging, progress bar and the loading of its batch included); a hand
    step from the end of the framework step to its own end (its batch's loading included).
    """

    def __init__(self, path: str, epoch: int = 1) -> None:
        self.path, self.timed_epoch = Path(path), epoch
        self.samples: dict[str, list[float]] = {"framework": [], "hand": []}

    def on_fit_start(self, trainer, pl_module) -> None:
        from hand_loop import HandWrittenLoop
        from omegaconf import OmegaConf

        self.loop = HandWrittenLoop(OmegaConf.create(pl_module.run_config))

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.batches = self.loop.epoch(trainer.current_epoch)
        self.hand_end: float | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.loop.synchronize()  # on a GPU: the framework step's queued kernels are its time
        framework_end = time.perf_counter()
        hand_batch = next(self.batches, None)
        if hand_batch is None:
            return
        self.loop.step(hand_batch)
        self.loop.synchronize()
        hand_end = time.perf_counter()
        if trainer.current_epoch == self.timed_epoch and self.hand_end is not None:
            self.samples["framework"].append(framework_end - self.hand_end)
            self.samples["hand"].append(hand_end - framework_end)
        self.hand_end = hand_end

    def on_train_end(self, trainer, pl_module) -> None:
        self.path.write_text(json.dumps(self.samples))
