"""Read what the jobs of a sweep directory left behind, whatever state the sweep is in.

A job directory holds ``.hydra/overrides.yaml`` from the moment Hydra starts it and
``metrics.json`` once it ends (completed or failed). The grid sweeper also writes
``planned_jobs.yaml`` before launching, so jobs an interrupted sweep never started are known.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shiftlab.errors import ShiftlabError

PLAN_FILE = "planned_jobs.yaml"

COMPLETED = "completed"
FAILED = "failed"
PRUNED = "pruned"  # an Optuna trial its study's pruner stopped early (not a failure)
UNFINISHED = "unfinished"  # started, no result yet: still running, or the sweep was killed
NOT_STARTED = "not started"


@dataclass
class Job:
    """One job of a sweep and its outcome, as found on disk."""

    number: int
    overrides: list[str]
    status: str
    directory: Path | None = None
    kind: str | None = None  # the task's kind (shiftlab.tasks.kinds), once the job has ended
    monitor: str | None = None
    monitor_mode: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    epochs: int | None = None
    wall_time_s: float | None = None
    best_checkpoint: str | None = None
    error: str | None = None
    pruned_epoch: int | None = None

    @property
    def objective(self) -> float | None:
        """The value the sweep optimises: the best monitored value, else the last one."""
        return None if self.monitor is None else self.value(self.monitor)

    def value(self, metric: str) -> float | None:
        """``metric``'s best value in the run (``<metric>_best``), else its last; None when
        it is missing or not finite."""
        value = self.metrics.get(f"{metric}_best", self.metrics.get(metric))
        return value if value is not None and math.isfinite(value) else None


def write_plan(sweep_dir: Path, jobs: list[list[str]]) -> None:
    """Record every job's overrides before any job starts."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / PLAN_FILE).write_text(yaml.safe_dump([list(j) for j in jobs], sort_keys=False))


def read_jobs(sweep_dir: Path) -> list[Job]:
    """Every job of the sweep in ``sweep_dir``: the ones on disk and the planned, unstarted ones."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ShiftlabError(
            f"No sweep directory at {sweep_dir}. Pass the directory a multirun printed "
            "(outputs/<task_name>/multiruns/<time>), e.g. `shiftlab report "
            "outputs/train/multiruns/2026-01-31_12-00-00`."
        )
    found = {job.number: job for job in map(read_job, _job_dirs(sweep_dir))}
    plan_file = sweep_dir / PLAN_FILE
    plan = yaml.safe_load(plan_file.read_text()) if plan_file.is_file() else []
    for number, overrides in enumerate(plan or []):
        found.setdefault(number, Job(number, list(overrides), NOT_STARTED))
    if not found:
        raise ShiftlabError(
            f"{sweep_dir} holds no jobs of a sweep (no <job>/.hydra/overrides.yaml and no "
            f"{PLAN_FILE}). Pass the multirun directory itself, not a single run or its parent."
        )
    return [found[n] for n in sorted(found)]


def _job_dirs(sweep_dir: Path) -> list[Path]:
    return [p.parent.parent for p in sweep_dir.glob("**/.hydra/overrides.yaml")]


# libyaml's parser where PyYAML has it: a run's config is read in a millisecond, not ten
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=YAML_LOADER)


def read_job(directory: Path, number: int | None = None) -> Job:
    """The job in ``directory`` as it stands: ``unfinished`` until its ``metrics.json``.
    ``number``: the job's number when the caller knows it (else read from Hydra's files)."""
    overrides_file = directory / ".hydra" / "overrides.yaml"
    overrides = load_yaml(overrides_file) if overrides_file.is_file() else []
    overrides = overrides or []
    number = _job_number(directory) if number is None else number
    job = Job(number, [str(o) for o in overrides], UNFINISHED, directory)
    summary: dict[str, Any] = {}
    summary_file = directory / "metrics.json"
    if summary_file.is_file():
        try:
            summary = json.loads(summary_file.read_text())
        except json.JSONDecodeError:
            summary = {}  # being written: the job is as good as unfinished
    if not summary.get("monitor"):  # not ended yet (or failed): the config says it
        job.monitor, job.monitor_mode = _monitor_from_config(directory / ".hydra" / "config.yaml")
    if not summary:
        return job
    job.status = summary.get("status", COMPLETED)
    job.kind = summary.get("kind")
    job.monitor = summary.get("monitor") or job.monitor
    job.monitor_mode = summary.get("monitor_mode") or job.monitor_mode
    job.metrics = {k: float(v) for k, v in (summary.get("metrics") or {}).items() if _number(v)}
    job.epochs = summary.get("epochs")
    job.wall_time_s = summary.get("wall_time_s")
    job.best_checkpoint = summary.get("best_checkpoint")
    job.error = summary.get("error")
    job.pruned_epoch = summary.get("pruned_epoch")
    return job


def _job_number(directory: Path) -> int:
    hydra_file = directory / ".hydra" / "hydra.yaml"
    if hydra_file.is_file():
        num = (load_yaml(hydra_file) or {}).get("hydra", {}).get("job", {})
        if isinstance(num.get("num"), int):
            return num["num"]
    return int(directory.name) if directory.name.isdigit() else -1


def _monitor_from_config(config_file: Path) -> tuple[str | None, str | None]:
    """The monitored metric of a job that has not written its summary yet."""
    if not config_file.is_file():
        return None, None
    task = (load_yaml(config_file) or {}).get("task") or {}
    monitor, mode = task.get("monitor"), task.get("monitor_mode")
    literal = [v if isinstance(v, str) and "${" not in v else None for v in (monitor, mode)]
    return literal[0], literal[1]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
