"""Every run and sweep job under a log directory, as ``shiftlab runs`` lists them: read from
the files each run directory holds (``.hydra/overrides.yaml``, ``.hydra/config.yaml``,
``metrics.json``, the running marker), never from a checkpoint; no torch.
"""

from __future__ import annotations

import csv
import io
import operator
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from shiftlab.errors import ShiftlabError
from shiftlab.liveness import liveness
from shiftlab.sweeps.jobs import UNFINISHED, Job, read_job

COMPARISONS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
               "==": operator.eq, "=": operator.eq}  # fmt: skip


@dataclass
class RunRow:
    """One run or sweep job, as listed."""

    started: datetime
    task_name: str
    directory: Path
    job: Job
    status: str
    sweep_job: str  # "<sweep time> #<job>", or "" for a single run

    @property
    def best(self) -> float | None:
        return self.job.objective

    def status_text(self) -> str:
        if self.status == "failed" and self.job.error:
            words = self.job.error.split(": ", 1)[-1].split()
            return "failed: " + " ".join(words[:8]) + (" ..." if len(words) > 8 else "")
        return self.status


def find_runs(log_dir: Path) -> list[RunRow]:
    """The runs (``<task>/runs/<time>``) and sweep jobs (``<task>/multiruns/<time>/<job>``)
    under ``log_dir``, newest first."""
    log_dir = Path(log_dir)
    if not log_dir.is_dir():
        raise ShiftlabError(
            f"No runs directory at {log_dir}: train first (`shiftlab train`), or name the folder "
            "your runs went to (`shiftlab runs <dir>`, or set paths.log_dir / SHIFTLAB_LOG_DIR)."
        )
    rows = []
    for overrides in log_dir.glob("*/runs/*/.hydra/overrides.yaml"):
        rows.append(_row(overrides.parent.parent, overrides.parents[3].name, ""))
    for overrides in log_dir.glob("*/multiruns/*/*/.hydra/overrides.yaml"):
        directory = overrides.parent.parent
        task_name = overrides.parents[4].name
        rows.append(_row(directory, task_name, f"{directory.parent.name} #{directory.name}"))
    return sorted(rows, key=lambda row: (row.started, str(row.directory)), reverse=True)


def _row(directory: Path, task_name: str, sweep_job: str) -> RunRow:
    number = int(directory.name) if directory.name.isdigit() else -1
    job = read_job(directory, number)
    status = liveness(directory) if job.status == UNFINISHED else job.status
    return RunRow(_started(directory), task_name, directory, job, status, sweep_job)


def _started(directory: Path) -> datetime:
    """The run's start: its directory's time stamp (a sweep's, for its jobs), else when the
    directory was made."""
    for name in (directory.name, directory.parent.name):
        try:
            return datetime.strptime(name, "%Y-%m-%d_%H-%M-%S")
        except ValueError:
            continue
    return datetime.fromtimestamp((directory / ".hydra").stat().st_mtime)


def metric_filter(expression: str) -> tuple[str, str, float]:
    """``val/iou>0.5`` as (metric, comparison, threshold)."""
    match = re.fullmatch(r"\s*([^<>=\s]+)\s*(>=|<=|==|=|>|<)\s*([-+0-9.eE]+)\s*", expression)
    if match is None:
        raise ShiftlabError(
            f"where={expression!r} is not a metric threshold: write the metric, a comparison "
            "and a number, e.g. where='val/iou>0.5' or where='test/loss<=0.2'."
        )
    return match.group(1), match.group(2), float(match.group(3))


def select(rows: list[RunRow], task_name: str | None = None, status: str | None = None,
           where: str | None = None) -> list[RunRow]:  # fmt: skip
    """The rows of ``task_name``, whose status starts with ``status``, and whose metric
    (its best value in the run, else its last) meets ``where``."""
    if task_name:
        rows = [r for r in rows if r.task_name == task_name]
    if status:
        rows = [r for r in rows if r.status.startswith(status)]
    if where:
        metric, comparison, threshold = metric_filter(where)
        compare = COMPARISONS[comparison]
        values = [(r, r.job.value(metric)) for r in rows]
        rows = [r for r, value in values if value is not None and compare(value, threshold)]
    return rows


HEADER = ["started", "task_name", "sweep_job", "options", "status", "epochs", "monitor", "best",
          "run_dir"]  # fmt: skip


def cells(row: RunRow, log_dir: Path) -> list[str]:
    """A row's values, as the table and the CSV show them."""
    try:
        where = str(row.directory.relative_to(log_dir))
    except ValueError:
        where = str(row.directory)
    monitor = row.job.monitor or ""
    if monitor and row.job.monitor_mode:
        monitor = f"{monitor} ({row.job.monitor_mode})"
    best = row.best
    return [row.started.strftime("%Y-%m-%d %H:%M:%S"), row.task_name, row.sweep_job or "-",
            " ".join(row.job.overrides) or "(defaults)", row.status_text(),
            "" if row.job.epochs is None else str(row.job.epochs), monitor,
            "" if best is None else f"{best:.4g}", where]  # fmt: skip


def to_table(rows: list[RunRow], log_dir: Path, width: int = 60) -> str:
    """Aligned text, long cells cut to ``width`` characters."""
    table = [HEADER] + [[_cut(c, width) for c in cells(row, log_dir)] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in table)  # fmt: skip


def to_csv(rows: list[RunRow], log_dir: Path) -> str:
    """Every column whole, for spreadsheets and scripts."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(cells(row, log_dir) for row in rows)
    return out.getvalue()


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
