"""A run's events (``events=...``): the publishers the config chooses, and what the run
says about itself when it starts."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from shiftlab.config.choices import group_choices
from shiftlab.events.run_events import RunEvents
from shiftlab.run.building import build
from shiftlab.run.ranks import is_rank_zero


def open_run_events(cfg: DictConfig, output_dir: Path) -> RunEvents:
    """The chosen publishers (rank zero only; none under ``events=none``), with the
    ``run_started`` event already sent."""
    node = cfg.get("events") or {}
    publishers = []
    if is_rank_zero():
        publishers = [build(item, f"events.{name}") for name, item in node.items()
                      if isinstance(item, DictConfig) and "_target_" in item]  # fmt: skip
    events = RunEvents(publishers)
    if publishers:
        events.emit("run_started", task_name=cfg.get("task_name"),
                    run_dir=str(Path(output_dir).resolve()),
                    choices=group_choices(), host=socket.gethostname(),
                    monitor={"name": OmegaConf.select(cfg, "task.monitor"),
                             "mode": OmegaConf.select(cfg, "task.monitor_mode")},
                    **_launch())  # fmt: skip
    return events


def _launch() -> dict[str, Any]:
    """The overrides as typed and, in a multirun, the sweep's directory and this job's number."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
    except ValueError:  # not launched by Hydra (tests, notebooks)
        return {"overrides": [], "sweep": None}
    sweep = None
    if hydra.mode == RunMode.MULTIRUN:
        sweep = {"dir": str(Path(hydra.sweep.dir).resolve()), "job": int(hydra.job.num)}
    return {"overrides": list(hydra.overrides.task), "sweep": sweep}
