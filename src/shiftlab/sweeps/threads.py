"""How many CPU threads one job's torch may use.

Jobs that run side by side must share the cores: two jobs with two threads each on two
cores ran 2x slower than one after the other (threads fight for cores and caches), while one
thread each ran 1.12x faster. A parallel launcher therefore gives each job
``cores // parallel jobs`` threads unless the config names a number (``threads=``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shiftlab.config.schema import check_value
from shiftlab.machine import available_cores


def parallel_jobs(launcher: Any, cores: int, jobs_at_once: int | None) -> int:
    """Jobs a Hydra launcher runs at once on this machine (1 for the sequential launcher).

    ``jobs_at_once`` is what the sweeper hands the launcher in one batch, when known: a
    launcher allowed 8 workers runs only 2 jobs at once when a batch holds 2.
    """
    target = str(launcher.get("_target_", "")).lower() if launcher is not None else ""
    if "joblib" in target:
        n_jobs = launcher.get("n_jobs") or 1
        workers = n_jobs if n_jobs > 0 else cores + 1 + n_jobs  # joblib: -1 = all cores
    elif "submitit" in target and "local" in target:
        workers = cores  # the local executor starts every job of a batch at once
    else:
        return 1
    return max(1, min(workers, jobs_at_once or workers))


def threads_for_job(requested: int | None) -> int | None:
    """The thread count to set, or None to keep torch's default (one job on the machine)."""
    if requested is not None:
        check_value("threads", requested)
        return requested
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    launcher = hydra_cfg.launcher
    if "submitit" in str(launcher.get("_target_", "")).lower() and launcher.get("cpus_per_task"):
        return int(launcher.cpus_per_task)  # the allocation SLURM (or the user) gives each task
    cores = available_cores()
    parallel = parallel_jobs(launcher, cores, _batch_size(hydra_cfg))
    return None if parallel == 1 else max(1, cores // parallel)


def _batch_size(hydra_cfg: Any) -> int | None:
    """Jobs per launch: the whole grid (planned_jobs.yaml), or an Optuna batch (n_jobs)."""
    from shiftlab.sweeps.jobs import PLAN_FILE

    plan = Path(hydra_cfg.sweep.dir) / PLAN_FILE
    if plan.is_file():
        batch = hydra_cfg.sweeper.get("max_batch_size")
        planned = len(yaml.safe_load(plan.read_text()) or [])
        return min(planned, batch) if batch else planned
    return hydra_cfg.sweeper.get("n_jobs")
