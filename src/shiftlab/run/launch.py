"""The check of a composed config at launch, before torch is imported: a mistake costs a
second instead of a run that dies minutes later."""

from __future__ import annotations

from omegaconf import DictConfig

from shiftlab.config.schema import UnresolvableValue, validate


def check_config(cfg: DictConfig) -> None:
    """The schema's checks (:func:`shiftlab.config.schema.validate`); when a value cannot be
    resolved, first the options that do not fit together (data and task, model and task),
    whose message names the options that do."""
    try:
        validate(cfg)
    except UnresolvableValue:
        from shiftlab.tasks.fitting import check_fits

        check_fits(cfg)
        raise
