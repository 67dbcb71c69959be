"""OmegaConf resolvers the configs use; registered before Hydra composes anything.

``${optuna_direction:${task.monitor_mode}}`` turns Lightning's ``min``/``max`` into Optuna's
``minimize``/``maximize``, so a search follows the task's monitored metric without the
direction being written twice.
"""

from __future__ import annotations

from omegaconf import OmegaConf

DIRECTIONS = {"min": "minimize", "max": "maximize"}


def optuna_direction(monitor_mode: str) -> str:
    if monitor_mode not in DIRECTIONS:
        raise ValueError(
            f"task.monitor_mode={monitor_mode!r} is neither 'min' nor 'max'; set it to the "
            "direction in which the monitored metric improves."
        )
    return DIRECTIONS[monitor_mode]


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("optuna_direction"):
        OmegaConf.register_new_resolver("optuna_direction", optuna_direction)
