"""Build objects from config nodes: any node (errors name the key), and the task a run
trains or a checkpoint holds (network, task, optimizer and schedulers from one config)."""

from __future__ import annotations

import re
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
        unexpected = re.search(r"unexpected keyword argument '(\w+)'", str(cause))
        if isinstance(cause, TypeError) and unexpected and unexpected.group(1) in node:
            name = unexpected.group(1)
            raise ConfigError(
                f"{key}.{name} is not a setting of {target}: it came from another option "
                f"(an experiment tuned for another {key}, or an override). Remove it with "
                f"~{key}.{name} on the command line, or choose the {key} it was meant for."
            ) from err
        reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(err)
        raise ConfigError(
            f"{key}: could not build {target}. {reason} "
            f"Check the values under '{key}' (print them with --cfg job)."
        ) from err


def build_task(cfg: DictConfig, datamodule: Any) -> Any:
    """The network and the task around it, with the facts only the data knows filled in.

    Data that discovers its classes (class folders, CSV labels) leaves ``num_classes`` and
    ``class_names`` null in the config; every model or task argument that is null in the
    config and named in ``datamodule.network_facts()`` takes the data's value.
    """
    facts = datamodule.network_facts() if hasattr(datamodule, "network_facts") else {}
    return task_from_config(cfg, facts)


def task_from_config(cfg: DictConfig, facts: dict[str, Any]) -> Any:
    """Network and task from a config and the data's facts (also used to load checkpoints)."""
    net = build(cfg.model, "model", **_unset(cfg.model, facts))
    task = build(
        cfg.task,
        "task",
        net=net,
        optimizer=build(cfg.optimizer, "optimizer"),
        schedulers=build(cfg.scheduler, "scheduler") if cfg.get("scheduler") else None,
        **_unset(cfg.task, facts),
    )
    task.data_facts = dict(facts)
    return task


def _unset(node: DictConfig, facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if k in node and node[k] is None}
