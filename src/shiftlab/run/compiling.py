"""``compile=default``: the task's network compiled with ``torch.compile``, and its cost said.

The network is compiled in place (``nn.Module.compile``), not wrapped, so its parameters keep
their names: checkpoints, ONNX export and ``shiftlab predict`` see the same module as in an
eager run. Compiling happens at the first forward of each kind (training, then validation),
inside the first steps; :class:`CompileTimeReport` logs what it cost once, after the first
training epoch, from torch's own compile timers.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import lightning as L
from omegaconf import DictConfig

from shiftlab.errors import ConfigError

log = logging.getLogger("shiftlab.compile")
MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile_network(task: Any, options: DictConfig | None) -> L.Callback | None:
    """Compile ``task.net`` as ``options`` (the ``compile`` group) say; the report callback.

    Returns None, leaving the network eager, when ``options.enabled`` is false or absent.
    """
    if not options or not options.get("enabled", False):
        return None
    mode = options.get("mode") or "default"
    if mode not in MODES:
        raise ConfigError(
            f"compile.mode={mode!r} is not a torch.compile mode. Choose one of "
            f"{', '.join(MODES)} (e.g. compile.mode=max-autotune), or compile=none to run "
            "the network eagerly."
        )
    settings = {"mode": mode, "dynamic": options.get("dynamic"),
                "fullgraph": bool(options.get("fullgraph", False))}  # fmt: skip
    task.net.compile(**settings)
    return CompileTimeReport(mode)


def compile_seconds() -> float | None:
    """Wall time torch has spent compiling in this process so far (None if it cannot say)."""
    try:
        from torch._dynamo.utils import calculate_time_spent

        return float(calculate_time_spent().get("total_wall_time", 0.0))
    except Exception:  # a private helper: its absence must not fail a run
        return None


class CompileTimeReport(L.Callback):
    """Logs once, after the first training epoch, how long compiling took.

    Says the compile time (torch's timers: tracing, Inductor, the C++ or Triton builds), the
    first training step's wall time, and the time of a later step for comparison.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        # torch's timers count for the whole process: in a multirun, earlier jobs' compiles too
        self._compiled_before = compile_seconds()
        self._step_started = 0.0
        self._step_times: list[float] = []
        self._reported = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if len(self._step_times) < 2:
            self._step_started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if len(self._step_times) < 2:
            self._step_times.append(time.perf_counter() - self._step_started)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._reported or not trainer.is_global_zero or not self._step_times:
            return
        self._reported = True
        total = compile_seconds()
        seconds = None if total is None else total - (self._compiled_before or 0.0)
        spent = f"{seconds:.1f} s compiling" if seconds is not None else "compiled"
        later = (
            f", a later step {self._step_times[1] * 1e3:.0f} ms"
            if len(self._step_times) > 1
            else ""
        )
        log.info(
            "torch.compile (mode=%s): %s the network (training and validation graphs); "
            "first training step %.1f s%s",
            self.mode,
            spent,
            self._step_times[0],
            later,
        )
