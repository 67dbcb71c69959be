"""The report of a sweep: one row per job, the best marked, seeds aggregated.

Written as ``report.csv`` (every column, for pandas) and ``report.md`` (the columns a reader
compares) in the sweep directory, at the end of each job and of the sweep, and again on
demand by ``shiftlab report <sweep dir>``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shlex
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from shiftlab.sweeps.jobs import COMPLETED, FAILED, PRUNED, Job, read_jobs
from shiftlab.tasks.kinds import KINDS

SEED_KEY = "seed"
# Swept keys that repeat one configuration, aggregated into mean ± std (and what they count).
REPEAT_KEYS = {SEED_KEY: "seeds", "data.fold": "folds"}
# Overrides an Optuna search adds to tell each run which trial it is: bookkeeping, not settings.
TRIAL_KEYS = ("search.storage", "search.study", "search.trial", "search.pruning")
ERROR_CHARS = 300


@dataclass
class Report:
    """What the sweep report says, before it is formatted."""

    sweep_dir: Path
    jobs: list[Job]
    swept_keys: list[str]  # override keys whose value differs between jobs
    fixed_overrides: list[str]  # overrides every job shares
    best: dict[str, Job]  # monitored metric -> the best job that optimised it
    objectives: list[tuple[str, str]]  # a multi-objective search's (metric, direction)
    pareto: list[Job]  # its completed jobs that no other job beats on every objective

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for job in self.jobs:
            counts[job.status] += 1
        return dict(counts)

    def summary_line(self) -> str:
        parts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        return f"{len(self.jobs)} jobs: {parts}"


def build_report(sweep_dir: Path) -> Report:
    jobs = read_jobs(Path(sweep_dir))
    for job in jobs:
        job.overrides = [o for o in job.overrides if _split(o)[0] not in TRIAL_KEYS]
    keyed = [dict(_split(o) for o in job.overrides) for job in jobs]
    all_keys = list(dict.fromkeys(k for overrides in keyed for k in overrides))
    swept = [k for k in all_keys if len({o.get(k) for o in keyed}) > 1]
    fixed = [o for o in jobs[0].overrides if _split(o)[0] not in swept]
    goals = _objectives(Path(sweep_dir))
    return Report(Path(sweep_dir), jobs, swept, fixed, _best_jobs(jobs), goals,
                  pareto_front(jobs, goals))  # fmt: skip


def _objectives(sweep_dir: Path) -> list[tuple[str, str]]:
    """``hydra.sweeper.objectives`` of a multi-objective search, from ``multirun.yaml``."""
    import yaml

    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return []
    sweeper = ((yaml.safe_load(path.read_text()) or {}).get("hydra") or {}).get("sweeper") or {}
    listed = sweeper.get("objectives") or []
    return [(str(o["metric"]), str(o.get("direction", "minimize"))) for o in listed
            if isinstance(o, dict) and "metric" in o]  # fmt: skip


def pareto_front(jobs: list[Job], goals: list[tuple[str, str]]) -> list[Job]:
    """The completed jobs no other completed job matches or beats on every objective while
    beating them on one (directions ``minimize``/``maximize``, or ``min``/``max``)."""
    if not goals:
        return []

    def point(job: Job) -> list[float] | None:
        values = [job.metrics.get(f"{m}_best", job.metrics.get(m)) for m, _ in goals]
        if any(v is None or not math.isfinite(v) for v in values):
            return None
        signs = [1.0 if d.startswith("min") else -1.0 for _, d in goals]
        return [s * v for s, v in zip(signs, values, strict=True)]  # lower is better

    points = {job.number: p for job in jobs if job.status == COMPLETED
              and (p := point(job)) is not None}  # fmt: skip
    front = []
    for job in jobs:
        mine = points.get(job.number)
        if mine is None:
            continue
        dominated = any(
            all(o <= m for o, m in zip(other, mine, strict=True)) and other != mine
            for number, other in points.items()
            if number != job.number
        )
        if not dominated:
            front.append(job)
    return front


def write_report(sweep_dir: Path) -> tuple[Report, Path, Path]:
    """Build the report from what is on disk and write ``report.csv`` and ``report.md``."""
    report = build_report(sweep_dir)
    csv_path = report.sweep_dir / "report.csv"
    md_path = report.sweep_dir / "report.md"
    _write_atomically(csv_path, to_csv(report))
    _write_atomically(md_path, to_markdown(report))
    return report, csv_path, md_path


def rerun_command(job: Job) -> str:
    """The command that runs this job again on its own (all of its overrides, shell-quoted).

    A trial of an ``hparams_search`` keeps that option (it may set more than the search) and
    gets ``hydra.mode=RUN``, so the command trains once instead of starting a new search.
    """
    overrides = list(job.overrides)
    if any(_split(o)[0] == "hparams_search" for o in overrides):
        overrides.append("hydra.mode=RUN")
    return " ".join(["shiftlab", "train", *(shlex.quote(o) for o in overrides)])


def to_csv(report: Report) -> str:
    metric_keys = sorted({k for job in report.jobs for k in job.metrics})
    header = ["job", "status", "best", *report.swept_keys, "monitor", "objective", *metric_keys]
    header += ["epochs", "wall_time_s", "best_checkpoint", "directory", "overrides", "error"]
    best_numbers = {job.number for job in report.best.values()}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for job in report.jobs:
        values = dict(_split(o) for o in job.overrides)
        writer.writerow(
            [
                job.number,
                job.status,
                job.number in best_numbers,
                *(values.get(k, "") for k in report.swept_keys),
                job.monitor or "",
                _blank(job.objective),
                *(_blank(job.metrics.get(k)) for k in metric_keys),
                _blank(job.epochs),
                _blank(job.wall_time_s),
                job.best_checkpoint or "",
                job.directory or "",
                " ".join(job.overrides),
                job.error or "",
            ]
        )
    return out.getvalue()


def to_markdown(report: Report) -> str:
    lines = [f"# Sweep report: {report.sweep_dir}", "", report.summary_line() + "."]
    if report.fixed_overrides:
        lines += ["", "Every job: `" + " ".join(report.fixed_overrides) + "`"]
    lines += ["", *_jobs_table(report)]
    for monitor, job in report.best.items():
        lines += [
            "",
            f"**Best** {monitor} ({_direction(job.monitor_mode)}): job {job.number}, "
            f"{_format(job.objective)}. Run it again with:",
            "",
            f"    {rerun_command(job)}",
        ]
    lines += _repeats_table(report)
    if report.pareto:
        names = [f"{metric} ({direction})" for metric, direction in report.objectives]
        lines += ["", "## Pareto front", "", "Jobs no other job beats on every objective: "
                  + ", ".join(names) + ".", ""]  # fmt: skip
        rows = [
            [
                str(job.number),
                *(
                    _format(job.metrics.get(f"{m}_best", job.metrics.get(m)))
                    for m, _ in report.objectives
                ),
            ]
            for job in report.pareto
        ]
        lines += _table(["job", *names], rows)
    pruned = [job for job in report.jobs if job.status == PRUNED]
    if pruned:
        lines += ["", "## Pruned trials", "", "Stopped early by the search's pruner: "
                  "their objective is the last value they reported.", ""]  # fmt: skip
        lines += [f"- job {job.number}: after epoch {job.pruned_epoch}, "
                  f"{job.monitor} {_format(job.objective)}" for job in pruned]  # fmt: skip
    failures = [job for job in report.jobs if job.status == FAILED]
    if failures:
        lines += ["", "## Failed jobs", ""]
        lines += [f"- job {job.number}: {_one_line(job.error)}" for job in failures]
    return "\n".join(lines) + "\n"


def _jobs_table(report: Report) -> list[str]:
    monitors = sorted({job.monitor for job in report.jobs if job.monitor})
    metric_keys = _headline_metrics(report.jobs)
    objective = f"{monitors[0]} (best)" if len(monitors) == 1 else "objective"
    header = ["job", "status", *report.swept_keys]
    header += ([] if len(monitors) == 1 else ["monitor"]) + [objective, *metric_keys]
    header += ["epochs", "wall time", "best checkpoint"]
    best_numbers = {job.number for job in report.best.values()}
    rows = []
    for job in report.jobs:
        values = dict(_split(o) for o in job.overrides)
        mark = " ★" if job.number in best_numbers else ""
        row = [f"{job.number}{mark}", job.status]
        row += [_short(values.get(k, "")) for k in report.swept_keys]
        row += [] if len(monitors) == 1 else [job.monitor or ""]
        row += [_format(job.objective), *(_format(job.metrics.get(k)) for k in metric_keys)]
        row += [_blank(job.epochs), _duration(job.wall_time_s), _relative(job, report.sweep_dir)]
        rows.append(row)
    return _table(header, rows)


def _repeats_table(report: Report) -> list[str]:
    """Mean and standard deviation per configuration over the repeats of it that were swept:
    seeds (``seed``), cross-validation folds (``data.fold``), or both."""
    repeats = [k for k in REPEAT_KEYS if k in report.swept_keys]
    if not repeats:
        return []
    groups: dict[tuple[str, ...], list[Job]] = defaultdict(list)
    keys = [k for k in report.swept_keys if k not in repeats]
    for job in report.jobs:
        values = dict(_split(o) for o in job.overrides)
        groups[tuple(values.get(k, "") for k in keys)].append(job)
    metric_keys = _headline_metrics(report.jobs)
    counted = " × ".join(REPEAT_KEYS[k] for k in repeats)
    header = [*keys, counted, "objective (mean ± std)", *metric_keys]
    rows = []
    for config, jobs in groups.items():
        done = [job for job in jobs if job.status == COMPLETED]
        row = [*map(_short, config), f"{len(done)}/{len(jobs)}"]
        row += [_mean_std([j.objective for j in done])]
        row += [_mean_std([j.metrics.get(k) for j in done]) for k in metric_keys]
        rows.append(row)
    title = f"## Over {counted} (mean ± sample standard deviation)"
    return ["", title, "", *_table(header, rows)]


def _best_jobs(jobs: list[Job]) -> dict[str, Job]:
    best: dict[str, Job] = {}
    for job in jobs:
        if job.status != COMPLETED or job.objective is None or job.monitor is None:
            continue
        current = best.get(job.monitor)
        sign = -1.0 if job.monitor_mode == "max" else 1.0
        if current is None or sign * job.objective < sign * current.objective:  # type: ignore[operator]
            best[job.monitor] = job
    return best


def _headline_metrics(jobs: list[Job]) -> list[str]:
    """The metrics each job's task kind shows in reports (``test/iou``, ``test/dice``, ...),
    in the registry's order; the CSV has every metric.

    Jobs that did not record their kind (failed before training) add nothing; when no job
    did, every metric of the whole stage (``test/iou``, not ``test/iou/<class>``) is shown.
    """
    keys = {k for job in jobs for k in job.metrics}
    stage = "test/" if any(k.startswith("test/") for k in keys) else "val/"
    kinds = list(dict.fromkeys(job.kind for job in jobs if job.kind in KINDS))
    if not kinds:
        return sorted(k for k in keys if k.startswith(stage) and k.count("/") == 1)
    names = dict.fromkeys(name for kind in kinds for name in KINDS[kind].report_metrics)
    return [f"{stage}{name}" for name in names if f"{stage}{name}" in keys]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *map(line, rows)]


def _split(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def _short(value: str) -> str:
    """Sampled floats (0.0008468008575248334) read as 0.0008468; the CSV keeps every digit."""
    try:
        number = float(value)
    except ValueError:
        return value
    return f"{number:.4g}" if len(value) > 8 and not value.isdigit() else value


def _mean_std(values: list[float | None]) -> str:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    if len(finite) == 1:
        return _format(finite[0])
    return f"{_format(statistics.mean(finite))} ± {_format(statistics.stdev(finite))}"


def _format(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _blank(value: object) -> object:
    return "" if value is None else value


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _relative(job: Job, sweep_dir: Path) -> str:
    if not job.best_checkpoint:
        return ""
    path = Path(job.best_checkpoint)
    try:
        return str(path.resolve().relative_to(sweep_dir.resolve()))
    except ValueError:
        return str(path)


def _direction(mode: str | None) -> str:
    return "higher is better" if mode == "max" else "lower is better"


def _one_line(error: str | None) -> str:
    text = " ".join((error or "no message").split())
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def _write_atomically(path: Path, text: str) -> None:
    """Parallel jobs rewrite the report as they end; readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
