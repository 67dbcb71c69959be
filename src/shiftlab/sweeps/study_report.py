"""The report of an Optuna study from its storage alone: every trial with its state, values
and parameters, whichever process or sweep directory ran it (``shiftlab report
storage=... study=...``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from shiftlab.errors import ShiftlabError
from shiftlab.sweeps.search import ASIDE_ATTR, open_storage


def study_markdown(storage: str, study_name: str | None) -> str:
    """A Markdown table of the study's trials, its best trial (or Pareto front) marked."""
    import optuna

    if "://" not in storage and not Path(storage).expanduser().is_file():
        raise ShiftlabError(
            f"storage={storage}: no such journal file. Give the path a search wrote "
            "(hydra.sweeper.storage, or study.journal in its sweep directory) or a database URL."
        )
    backend = open_storage(storage)
    names = [s.study_name for s in optuna.get_all_study_summaries(backend)]
    if study_name is None:
        if len(names) != 1:
            raise ShiftlabError(f"{storage} holds the studies {names}; name one with study=<name>.")
        study_name = names[0]
    if study_name not in names:
        raise ShiftlabError(
            f"{storage} has no study {study_name!r}; it holds {names}. Check study=."
        )
    study = optuna.load_study(study_name=study_name, storage=backend)
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    directions = [d.name.lower() for d in study.directions]
    best = {t.number for t in study.best_trials} if _any_complete(trials) else set()
    params = list(dict.fromkeys(k for t in trials for k in t.params))
    values = ["value"] if len(directions) == 1 else [f"value {i}" for i in range(len(directions))]
    header = ["trial", "state", *params, *values, "last reported (epoch)"]
    rows = []
    for trial in trials:
        state = trial.state.name.lower()
        if ASIDE_ATTR in trial.user_attrs:
            state = f"set aside ({trial.user_attrs[ASIDE_ATTR]})"
        mark = " ★" if trial.number in best else ""
        reported = ""
        if trial.intermediate_values:
            step = max(trial.intermediate_values)
            reported = f"{_format(trial.intermediate_values[step])} ({step})"
        row = [f"{trial.number}{mark}", state, *(_format(trial.params.get(k)) for k in params)]
        row += [_format(v) for v in (trial.values or [None] * len(values))]
        rows.append([*row, reported])
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    lines = [f"# Study {study_name} ({', '.join(directions)})", "", f"{storage}: "
             f"{len(trials)} trials: {summary}.", ""]  # fmt: skip
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _any_complete(trials: list[Any]) -> bool:
    return any(t.state.name == "COMPLETE" for t in trials)


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)
