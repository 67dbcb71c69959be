"""The state of the runs and sweeps seen on a bus, folded from their events, as the table
``shiftlab watch`` prints. Pure: events in, rows and text out."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunRow:
    """One run, as its events so far describe it."""

    run_id: str
    task_name: str = "?"
    sweep: str = ""
    status: str = "running"
    epoch: int | None = None
    monitor: str | None = None
    mode: str = "min"
    latest: float | None = None
    best: float | None = None
    last_time: str = ""
    error: str = ""
    seen: int = 0
    last_sequence: int = -1
    gaps: int = 0

    def metric_text(self, value: float | None) -> str:
        return "" if value is None else f"{value:.4g}"


@dataclass
class SweepRow:
    """One sweep: its directory, how its jobs ended and its best job."""

    sweep_dir: str
    status: str = "running"
    jobs: int | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    best: str = ""


class Board:
    """Every run and sweep seen, in the order first seen."""

    def __init__(self) -> None:
        self.runs: dict[str, RunRow] = {}
        self.sweeps: dict[str, SweepRow] = {}

    def add(self, event: dict[str, Any]) -> str | None:
        """Fold one event in; a line saying what changed (None when nothing a reader of the
        table would notice did)."""
        kind = event.get("type")
        if kind in ("sweep_started", "sweep_completed"):
            return self._sweep(event)
        run = self.runs.setdefault(str(event.get("run_id")), RunRow(str(event.get("run_id"))))
        run.seen += 1
        sequence = int(event.get("sequence", run.last_sequence + 1))
        if sequence > run.last_sequence + 1:
            run.gaps += sequence - run.last_sequence - 1
        run.last_sequence = max(run.last_sequence, sequence)
        run.last_time = str(event.get("time", ""))
        name = f"run {run.run_id[:8]}"
        if kind == "run_started":
            run.task_name = str(event.get("task_name") or "?")
            sweep = event.get("sweep") or None
            if sweep:
                run.sweep = f"{Path(str(sweep['dir'])).name} #{sweep['job']}"
                self.sweeps.setdefault(str(sweep["dir"]), SweepRow(str(sweep["dir"])))
            monitor = event.get("monitor") or {}
            run.monitor, run.mode = monitor.get("name"), monitor.get("mode") or "min"
            where = f", sweep job {run.sweep}" if run.sweep else ""
            return f"{name} ({run.task_name}{where}) started on {event.get('host', '?')}"
        if kind == "validation_epoch":
            run.epoch = int(event.get("epoch", 0))
            metrics = event.get("metrics") or {}
            if run.monitor is None:
                run.monitor = "val/loss" if "val/loss" in metrics else next(iter(metrics), None)
            value = metrics.get(run.monitor) if run.monitor else None
            if isinstance(value, (int, float)) and math.isfinite(value):
                run.latest = float(value)
                better = min if run.mode == "min" else max
                run.best = value if run.best is None else better(run.best, float(value))
            return f"{name}: epoch {run.epoch} {run.monitor}={run.metric_text(run.latest)}"
        if kind == "run_completed":
            run.status = str(event.get("status") or "completed")
            return f"{name}: {run.status} ({event.get('wall_time_s', 0):.0f} s)"
        if kind == "run_failed":
            run.status = "failed"
            run.error = str(event.get("error") or "")
            return f"{name}: failed: {run.error[:200]}"
        return None

    def _sweep(self, event: dict[str, Any]) -> str:
        path = str(event.get("sweep_dir"))
        sweep = self.sweeps.setdefault(path, SweepRow(path))
        if event["type"] == "sweep_started":
            return f"sweep {Path(path).name} started"
        sweep.status = "completed"
        sweep.jobs = event.get("jobs")
        sweep.statuses = dict(event.get("statuses") or {})
        best = []
        for monitor, row in (event.get("best") or {}).items():
            objective = row.get("objective", float("nan"))
            best.append(f"{monitor}={objective:.4g} (job {row.get('job')})")
        sweep.best = ", ".join(best)
        ended = ", ".join(f"{count} {status}" for status, count in sweep.statuses.items())
        return f"sweep {Path(path).name} completed: {ended}; best {sweep.best or '-'}"

    def table(self, limit: int | None = None) -> str:
        """The runs (the newest ``limit``; all when None), then the sweeps, as aligned text."""
        runs = list(self.runs.values())
        hidden = 0
        if limit is not None and len(runs) > limit:
            hidden, runs = len(runs) - limit, runs[-limit:]
        header = ["RUN", "TASK", "SWEEP JOB", "STATUS", "EPOCH", "MONITOR", "LATEST", "BEST",
                  "UPDATED"]  # fmt: skip
        rows = [header]
        for run in runs:
            status = run.status + (f" ({run.gaps} missed)" if run.gaps else "")
            rows.append([run.run_id[:8], run.task_name, run.sweep or "-", status,
                         "" if run.epoch is None else str(run.epoch), run.monitor or "",
                         run.metric_text(run.latest), run.metric_text(run.best),
                         run.last_time[11:19]])  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = []
        for row in rows:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            lines.append("  ".join(cells).rstrip())
        if hidden:
            lines.append(f"(and {hidden} older runs)")
        for sweep in self.sweeps.values():
            ended = ", ".join(f"{count} {status}" for status, count in sweep.statuses.items())
            text = f"sweep {sweep.sweep_dir}: {sweep.status}"
            if sweep.jobs is not None:
                text += f", {sweep.jobs} jobs ({ended}), best {sweep.best or '-'}"
            lines.append(text)
        return "\n".join(lines)
