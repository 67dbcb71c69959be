"""An Optuna study for a sweep: the search space from Hydra's sweep syntax, the sampler and
pruner by name, where the study lives, and which of its trials are ours to run.

The Hydra plugin (``hydra_plugins/shiftlab_sweeper/optuna_sweeper.py``) asks the study for
trials, launches them as jobs and tells it their results; this module holds everything that
does not depend on Hydra's plugin API. Optuna is imported when a search starts.
"""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shiftlab.errors import ConfigError

SAMPLERS = ("tpe", "random", "cmaes", "qmc", "gp")
PRUNERS = ("none", "median", "percentile", "successive_halving", "hyperband")
JOURNAL_NAME = "study.journal"  # the study's file in the sweep directory when storage is null
OWNER_ATTR = "shiftlab_owner"  # host:pid of the sweep process that runs a trial
ASIDE_ATTR = "shiftlab_set_aside"  # why a trial was never run (it does not count)


@dataclass(frozen=True)
class Objective:
    """A metric a study optimises and its direction (``minimize`` or ``maximize``)."""

    metric: str
    direction: str


def objectives(
    direction: str, monitor: str | None, listed: Sequence[Mapping[str, Any]] | None
) -> list[Objective]:
    """The study's objectives: ``hydra.sweeper.objectives`` (a list of ``{metric,
    direction}``) for a multi-objective study, else the task's monitored metric."""
    if not listed:
        if monitor is None:
            raise ConfigError("An Optuna search needs task.monitor, the metric it optimises.")
        return [Objective(monitor, _direction(direction, "hydra.sweeper.direction"))]
    found = []
    for k, entry in enumerate(listed):
        if not isinstance(entry, Mapping) or "metric" not in entry:
            raise ConfigError(
                f"hydra.sweeper.objectives[{k}] is {entry!r}; each objective is "
                "{metric: val/iou, direction: maximize}."
            )
        key = f"hydra.sweeper.objectives[{k}].direction"
        found.append(Objective(str(entry["metric"]), _direction(entry.get("direction"), key)))
    return found


def _direction(value: Any, key: str) -> str:
    aliases = {"min": "minimize", "max": "maximize", "minimize": "minimize",
               "maximize": "maximize"}  # fmt: skip
    if value not in aliases:
        raise ConfigError(f"{key}={value!r}: give minimize or maximize (or min, max).")
    return aliases[value]


def distribution(key: str, sweep: Any) -> Any:
    """The Optuna distribution of a Hydra sweep value: ``choice(a, b)`` or ``a,b``
    (categorical), ``range(start, stop[, step])`` (stop excluded, as in Hydra),
    ``interval(low, high)`` (real-valued, as Hydra reads it), ``tag(log, ...)`` (log
    scale)."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    log = "log" in (getattr(sweep, "tags", None) or set())
    if isinstance(sweep, ChoiceSweep):
        return CategoricalDistribution([_plain(v) for v in sweep.list])
    if isinstance(sweep, RangeSweep):
        start, stop, step = sweep.start, sweep.stop, sweep.step or 1
        if all(float(v).is_integer() for v in (start, stop, step)) and not log:
            return IntDistribution(int(start), int(stop) - int(step), step=int(step))
        return FloatDistribution(float(start), float(stop) - float(step), step=float(step))
    if isinstance(sweep, IntervalSweep):  # Hydra's intervals are real-valued
        return FloatDistribution(float(sweep.start), float(sweep.end), log=log)
    raise ConfigError(
        f"{key}: an Optuna search takes choice(...), a,b,c, range(...), interval(...) or "
        "tag(log, interval(...)); this sweep cannot be searched."
    )


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def storage(setting: str | None, sweep_dir: Path) -> tuple[Any, str]:
    """(the Optuna storage, its address for other processes): a database URL (``sqlite:///``,
    ``postgresql://``, ``mysql://``), or the path of a journal file (what a shared file
    system offers; null: ``study.journal`` in the sweep directory)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if setting and "://" in str(setting):
        return optuna.storages.RDBStorage(str(setting)), str(setting)
    path = Path(setting).expanduser() if setting else Path(sweep_dir) / JOURNAL_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path))), str(path.resolve())


def open_storage(address: str) -> Any:
    """The storage at ``address`` (a URL or a journal file), from a job's process."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if "://" in address:
        return optuna.storages.RDBStorage(address)
    return JournalStorage(JournalFileBackend(address))


def sampler(settings: Mapping[str, Any] | None, seed: int | None) -> Any:
    """The sampler named by ``settings["name"]`` (tpe, random, cmaes, qmc, gp), with the
    other settings as its arguments."""
    import optuna

    settings = dict(settings or {})
    name = settings.pop("name", "tpe")
    settings.setdefault("seed", seed)
    classes = {
        "tpe": optuna.samplers.TPESampler,
        "random": optuna.samplers.RandomSampler,
        "cmaes": optuna.samplers.CmaEsSampler,
        "qmc": optuna.samplers.QMCSampler,
        "gp": optuna.samplers.GPSampler,
    }
    if name not in classes:
        raise ConfigError(
            f"hydra.sweeper.sampler.name={name!r}: choose one of {', '.join(SAMPLERS)}."
        )
    try:
        with warnings.catch_warnings():  # QMC and GP are "experimental" in Optuna's words
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return classes[name](**settings)
    except TypeError as err:
        raise ConfigError(
            f"hydra.sweeper.sampler: {err} (the {name} sampler's arguments)."
        ) from None


def pruner(settings: Mapping[str, Any] | str | None) -> Any:
    """The pruner named by ``settings`` (a name, or ``{name: ..., arguments}``): none,
    median, percentile, successive_halving, hyperband."""
    import optuna

    settings = {"name": settings} if isinstance(settings, str) or settings is None else dict(
        settings)  # fmt: skip
    name = settings.pop("name", None) or "none"
    classes = {
        "none": optuna.pruners.NopPruner,
        "median": optuna.pruners.MedianPruner,
        "percentile": optuna.pruners.PercentilePruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
    }
    if name not in classes:
        raise ConfigError(f"hydra.sweeper.pruner={name!r}: choose one of {', '.join(PRUNERS)}.")
    if name == "percentile":
        settings.setdefault("percentile", 25.0)
    try:
        return classes[name](**settings)
    except TypeError as err:
        raise ConfigError(f"hydra.sweeper.pruner: {err} (the {name} pruner's arguments).") from None


def sampler_seed(seed: int | None, study: Any, shared: bool) -> int | None:
    """The sampler's seed: ``seed`` for a new study of this sweep alone (the search repeats);
    for a study others share or this one resumes, ``seed`` mixed with this process and the
    trials so far, so that processes do not sample the same values in the same order."""
    if seed is None or not shared:
        return seed
    return (int(seed) * 1_000_003 + len(study.trials) * 7_919 + os.getpid()) % 2**31


def owner() -> str:
    """This process, as recorded on the trials it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def counted_trials(study: Any) -> int:
    """The study's trials that count towards ``n_trials``: all but those set aside (asked
    beyond ``n_trials`` by a process that lost the race, or left running by a killed one)."""
    return sum(ASIDE_ATTR not in t.user_attrs for t in study.get_trials(deepcopy=False))


def set_aside(study: Any, trial: Any, reason: str) -> None:
    """End a trial that will never run, as failed, out of the count."""
    from optuna.trial import TrialState

    study._storage.set_trial_user_attr(trial._trial_id, ASIDE_ATTR, reason)
    study.tell(trial.number, state=TrialState.FAIL)


def fail_orphaned_trials(study: Any) -> list[int]:
    """Set aside the running trials whose sweep process, on this machine, has ended (a
    search that was killed): a resumed study does not wait for them, and runs as many new
    trials instead. Trials of live processes, or of other machines, are left running."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    orphans = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        recorded = str(trial.user_attrs.get(OWNER_ATTR, ""))
        name, _, pid = recorded.rpartition(":")
        if name == host and pid.isdigit() and not _alive(int(pid)):
            set_aside(study, trial, "its search process ended")
            orphans.append(trial.number)
    return orphans


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
