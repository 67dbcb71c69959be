"""Instantiate config nodes, turning construction failures into errors that name the key."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from shiftlab.errors import ConfigError, ShiftlabError


def build(node: DictConfig, key: str, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate(node, **kwargs)``; a failure names ``key`` and its target.

    Errors raised by our own constructors (``ShiftlabError``) already say what to fix and pass
    through unchanged; any other construction error becomes a :class:`ConfigError` that says
    which config group produced it.
    """
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, ShiftlabError):
            raise cause from None
        target = node.get("_target_", "?") if isinstance(node, DictConfig) else "?"
        reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(err)
        raise ConfigError(
            f"{key}: could not build {target}. {reason} "
            f"Check the values under '{key}' (print them with --cfg job)."
        ) from err
