"""Report a trial's monitored metric to its Optuna study every validation epoch, and stop the
run when the study's pruner says the trial will not beat the others."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning as L

from shiftlab.sweeps.search import open_storage, pruner


class TrialPruning(L.Callback):
    """The Optuna trial a run is, seen from inside its training.

    Args:
        storage: the study's storage address (a database URL or a journal file).
        study: the study's name.
        trial: the trial's number in the study.
        monitor: the metric reported (the task's monitored one).
        pruner_settings: the sweep's ``hydra.sweeper.pruner``.
    """

    def __init__(
        self,
        storage: str,
        study: str,
        trial: int,
        monitor: str,
        pruner_settings: Mapping[str, Any] | str | None,
    ) -> None:
        import optuna

        loaded = optuna.load_study(
            study_name=study, storage=open_storage(storage), pruner=pruner(pruner_settings)
        )
        trial_id = loaded._storage.get_trial_id_from_study_id_trial_number(loaded._study_id, trial)
        self.trial = optuna.trial.Trial(loaded, trial_id)
        self.monitor = monitor
        self.pruned_epoch: int | None = None
        self.last_value: float | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        prune = False
        if trainer.is_global_zero and value is not None and math.isfinite(float(value)):
            self.last_value = float(value)
            self.trial.report(self.last_value, step=trainer.current_epoch)
            prune = self.trial.should_prune()
        if trainer.strategy.broadcast(prune, src=0):
            self.pruned_epoch = trainer.current_epoch
            trainer.should_stop = True
