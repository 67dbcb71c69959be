"""shiftlab's Optuna sweeper (Optuna 4 and later): trials asked from a study, run as jobs by
Hydra's launcher, told their results, pruned while they train, and shared between processes
through the study's storage.

Each trial is a job of the sweep directory named by its trial number, with the sampled
values as overrides and ``search.*`` overrides that tell the run which trial it is (its
pruning callback reports there). A job's outcome is read from its ``metrics.json``:
``completed`` gives the objective values, ``pruned`` a pruned trial, anything else a failed
one; the search goes on either way. ``n_trials`` counts the study's trials, whoever ran
them, so several processes on one storage finish one study between them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from shiftlab.errors import ConfigError
from shiftlab.sweeps import search
from shiftlab.sweeps.jobs import COMPLETED, FAILED, PRUNED, Job, read_job

log = logging.getLogger(__name__)


class OptunaSweeper(Sweeper):
    """Optuna search over ``params`` (Hydra's sweep syntax) and the command line's sweeps."""

    def __init__(
        self,
        direction: str = "minimize",
        study_name: str | None = None,
        storage: str | None = None,
        n_trials: int = 20,
        n_jobs: int = 1,
        sampler: dict[str, Any] | None = None,
        pruner: Any = None,
        objectives: list[dict[str, Any]] | None = None,
        params: dict[str, str] | None = None,
        seed: int | None = None,
        cv_folds: int | None = None,
    ) -> None:
        if cv_folds is not None and int(cv_folds) < 2:
            raise ConfigError(
                f"hydra.sweeper.cv_folds={cv_folds}: cross-validation needs at least 2 folds "
                "(null: one run per trial)."
            )
        self.cv_folds = int(cv_folds) if cv_folds is not None else None
        if int(n_trials) < 1 or int(n_jobs) < 1:
            raise ConfigError(
                f"hydra.sweeper.n_trials ({n_trials}) and hydra.sweeper.n_jobs ({n_jobs}) "
                "must be at least 1."
            )
        self.settings = {
            "direction": direction, "study_name": study_name, "storage": storage,
            "n_trials": int(n_trials), "n_jobs": int(n_jobs), "seed": seed,
        }  # fmt: skip
        self.sampler_settings = OmegaConf.to_container(sampler) if isinstance(
            sampler, DictConfig) else sampler  # fmt: skip
        self.pruner_settings = OmegaConf.to_container(pruner) if isinstance(
            pruner, DictConfig) else pruner  # fmt: skip
        self.objective_list = OmegaConf.to_container(objectives) if objectives else None
        self.params = dict(params or {})
        self.config: DictConfig | None = None
        self.launcher: Any = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        import optuna

        assert self.config is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        given = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        space, fixed = {}, []
        for override in parser.parse_overrides(given):
            if override.is_sweep_override():
                key = override.get_key_element()
                space[key] = search.distribution(key, override.value())
            else:
                fixed.append(override.input_line)
        monitor = OmegaConf.select(self.config, "task.monitor", default=None)
        goals = search.objectives(self.settings["direction"], monitor, self.objective_list)

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        storage, address = search.storage(self.settings["storage"], sweep_dir)
        name = self.settings["study_name"] or "shiftlab"
        study = optuna.create_study(
            study_name=name, storage=storage, load_if_exists=True,
            pruner=search.pruner(self.pruner_settings),
            directions=[goal.direction for goal in goals],
        )  # fmt: skip
        shared = bool(self.settings["storage"]) or len(study.trials) > 0
        seed = search.sampler_seed(self.settings["seed"], study, shared)
        study.sampler = search.sampler(self.sampler_settings, seed)
        orphans = search.fail_orphaned_trials(study)
        if orphans:
            log.info("Trials %s of a search that ended without them are marked failed.", orphans)
        log.info("Study %r (%s) in %s: %d trials so far; searching %s", name,
                 ", ".join(f"{g.metric} {g.direction}" for g in goals), address,
                 search.counted_trials(study), ", ".join(space) or "nothing")  # fmt: skip
        pruning = len(goals) == 1 and (self.pruner_settings or "none") != "none"
        if pruning and self.cv_folds:
            log.warning("Trials are cross-validated (cv_folds): they are not pruned.")
            pruning = False
        runs = self.cv_folds or 1  # jobs per trial: one per fold

        returns = []
        while True:
            batch = []
            for _ in range(self.settings["n_jobs"]):
                if search.counted_trials(study) >= self.settings["n_trials"]:
                    break
                trial = study.ask(space)
                trial.set_user_attr(search.OWNER_ATTR, search.owner())
                if search.counted_trials(study) > self.settings["n_trials"]:
                    search.set_aside(study, trial, "surplus")  # another process asked first
                    break
                batch.append(trial)
            if not batch:
                break
            jobs = [
                [*self._job_overrides(trial, fixed, address, name, pruning), *folds]
                for trial in batch
                for folds in self._fold_overrides()
            ]
            results = []
            # A job's directory and number are its trial's number; trials asked together are
            # launched together (in parallel with a parallel launcher) when their numbers
            # follow each other, which they do unless another process asked in between.
            # (with cv_folds, trial t's folds are jobs t * cv_folds to t * cv_folds + k - 1)
            numbers = [trial.number for trial in batch]
            if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
                results = list(self.launcher.launch(jobs, initial_job_idx=numbers[0] * runs))
            else:
                for k, trial in enumerate(batch):
                    own = jobs[k * runs : (k + 1) * runs]
                    results += list(self.launcher.launch(own, initial_job_idx=trial.number * runs))
            for k, trial in enumerate(batch):
                self._tell(study, trial, results[k * runs : (k + 1) * runs], goals)
            returns.append(results)
        _log_best(study, goals, sweep_dir)
        return returns

    @staticmethod
    def _job_overrides(
        trial: Any, fixed: list[str], address: str, name: str, pruning: bool
    ) -> list[str]:
        sampled = [f"{key}={_override_value(value)}" for key, value in trial.params.items()]
        tracking = [
            f"search.storage={_quote(address)}",
            f"search.study={_quote(name)}",
            f"search.trial={trial.number}",
            f"search.pruning={str(pruning).lower()}",
        ]
        return [*fixed, *sampled, *tracking]

    def _fold_overrides(self) -> list[list[str]]:
        """The extra overrides of each job of a trial: one per cross-validation fold."""
        if not self.cv_folds:
            return [[]]
        return [[f"data.num_folds={self.cv_folds}", f"data.fold={k}"] for k in range(self.cv_folds)]

    @staticmethod
    def _tell(study: Any, trial: Any, results: list, goals: list[search.Objective]) -> None:
        """Tell the study a trial's outcome from its jobs: its objective values (the mean over
        its folds when cross-validated), pruned, or failed when any job failed."""
        from optuna.trial import TrialState

        jobs = [_job(result) for result in results]
        pruned = [job for job in jobs if job.status == PRUNED]
        if pruned:
            study.tell(trial, state=TrialState.PRUNED)
            log.info("Trial %d pruned at epoch %s.", trial.number, pruned[0].pruned_epoch)
            return
        failed = [k for k, job in enumerate(jobs) if job.status != COMPLETED]
        first = failed[0] if failed else 0  # the job that speaks for the trial
        folds = [[job.value(goal.metric) for goal in goals] for job in jobs]
        values = [None if any(f[i] is None for f in folds) else
                  sum(f[i] for f in folds) / len(folds) for i in range(len(goals))]  # fmt: skip
        if failed or any(v is None for v in values):
            study.tell(trial, state=TrialState.FAIL)
            if not failed:
                missing = [g.metric for g, v in zip(goals, values, strict=True) if v is None]
                reason = f"{', '.join(missing)} is NaN or was not logged"
            else:
                reason = jobs[first].error or str(getattr(results[first], "_return_value", ""))
            log.warning("Trial %d failed (%s); the search goes on.", trial.number, reason)
            return
        study.tell(trial, values if len(values) > 1 else values[0])


def _job(result: Any) -> Job:
    """A launched job as its directory tells it (``unfinished`` without ``metrics.json``)."""
    try:
        return read_job(Path(result.hydra_cfg.hydra.runtime.output_dir))
    except Exception:  # the launcher could not even set the job up
        return Job(-1, [], FAILED, error=str(getattr(result, "_return_value", "")))


def _override_value(value: Any) -> str:
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, float):
        return repr(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _quote(text: str) -> str:
    plain = all(c.isalnum() or c in "._-/" for c in text)
    return text if plain and text else "'" + text.replace("'", "\\'") + "'"


def _log_best(study: Any, goals: list[search.Objective], sweep_dir: Path) -> None:
    """Log the study's best trial (or Pareto front) and write ``optimization_results.yaml``."""
    import yaml
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        log.warning("No trial of the study completed.")
        return
    if len(goals) == 1:
        best = study.best_trial
        log.info("Study's best trial: %d, %s = %.6g, %s", best.number, goals[0].metric,
                 best.value, best.params)  # fmt: skip
        results = {"name": study.study_name, "best_trial": best.number,
                   "best_params": best.params, "best_value": best.value}  # fmt: skip
    else:
        front = sorted(study.best_trials, key=lambda t: t.number)
        log.info("Study's Pareto front: trials %s", [t.number for t in front])
        results = {"name": study.study_name, "objectives": [g.metric for g in goals],
                   "pareto_front": [{"trial": t.number, "params": t.params,
                                     "values": list(t.values)} for t in front]}  # fmt: skip
    (sweep_dir / "optimization_results.yaml").write_text(yaml.safe_dump(results, sort_keys=False))
