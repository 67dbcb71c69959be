"""OmegaConf resolvers the configs use; registered before Hydra composes anything.

``${optuna_direction:${task.monitor_mode}}`` turns Lightning's ``min``/``max`` into Optuna's
``minimize``/``maximize``, so a search follows the task's monitored metric without the
direction being written twice.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from shiftlab.config.schema import check_value

DIRECTIONS = {"min": "minimize", "max": "maximize"}


def optuna_direction(monitor_mode: str) -> str:
    check_value("task.monitor_mode", monitor_mode)
    return DIRECTIONS[monitor_mode]


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("optuna_direction"):
        OmegaConf.register_new_resolver("optuna_direction", optuna_direction)
