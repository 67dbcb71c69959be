"""Hydra callback: rewrite the sweep report when a job ends and when the sweep ends.

Each job's rewrite keeps the report current during a long sweep (and after a crash); the last
one, in the launching process, logs the best job and the command that runs it again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict, read_write

from shiftlab.config.overrides import quoted
from shiftlab.sweeps.jobs import COMPLETED
from shiftlab.sweeps.report import build_report, rerun_command, write_report

log = logging.getLogger("shiftlab.sweep")


class OneSweepDirectory(Callback):
    """Fix the sweep directory at launch, for every job of the sweep.

    Hydra resolves ``hydra.sweep.dir`` again for each job with that job's overrides, so a
    sweep over experiments (each sets its own ``task_name``) would scatter its jobs over
    several ``outputs/<task_name>/multiruns/`` folders, and no report would see them all.
    Each job's config is rebuilt from the launch's Hydra overrides plus its own, so one
    more Hydra override carries the directory resolved once, here.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = str(config.hydra.sweep.dir)
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.overrides.hydra.append(f"hydra.sweep.dir={quoted(sweep_dir)}")


class SweepReport(Callback):
    """Keep ``report.csv`` and ``report.md`` in the sweep directory up to date."""

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if not _is_multirun(config):
            return
        try:
            write_report(Path(config.hydra.sweep.dir))
        except Exception as err:  # a report must never fail the job it describes
            log.warning("Could not update the sweep report: %s", err)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        report, csv_path, md_path = write_report(Path(config.hydra.sweep.dir))
        log.info(
            "Sweep finished, %s. Report: %s (and %s)", report.summary_line(), md_path, csv_path
        )
        for monitor, job in report.best.items():
            log.info(
                "Best %s: %.6g (job %d). Run it again with:\n  %s",
                monitor,
                job.objective,
                job.number,
                rerun_command(job),
            )
        if report.jobs and not any(job.status == COMPLETED for job in report.jobs):
            log.error("No job of the sweep completed; see %s for each job's error.", md_path)
            raise SystemExit(1)


class SweepEvents(Callback):
    """``sweep_started`` and ``sweep_completed`` run events (with the report's best rows)
    from the launching process, when the sweep's config chooses ``events=...``; each job
    publishes its own run's events, naming the sweep directory and its job number."""

    def __init__(self) -> None:
        self.events: Any = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        node = config.get("events") or {}
        targets = {name: item for name, item in node.items()
                   if isinstance(item, DictConfig) and "_target_" in item}  # fmt: skip
        if not targets:
            return
        from hydra.utils import instantiate

        from shiftlab.events.run_events import RunEvents

        try:
            self.events = RunEvents([instantiate(item) for item in targets.values()])
        except Exception as err:  # the jobs report a bad events config themselves
            log.warning("No sweep events: %s", err)
            return
        self.events.emit("sweep_started", sweep_dir=str(Path(config.hydra.sweep.dir).resolve()),
                         overrides=list(config.hydra.overrides.task))  # fmt: skip

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.events is None:
            return
        try:
            report = build_report(Path(config.hydra.sweep.dir))
            best = {monitor: {"job": job.number, "objective": job.objective,
                              "overrides": job.overrides, "metrics": job.metrics}
                    for monitor, job in report.best.items()}  # fmt: skip
            self.events.emit("sweep_completed", sweep_dir=str(report.sweep_dir.resolve()),
                             jobs=len(report.jobs), statuses=report.counts, best=best)  # fmt: skip
        finally:
            self.events.close()


def _is_multirun(config: DictConfig) -> bool:
    mode = config.hydra.get("mode") if "hydra" in config else None
    if mode is None and HydraConfig.initialized():
        mode = HydraConfig.get().mode
    return mode == RunMode.MULTIRUN
