"""Which networks and which data a task can use, checked at launch before anything is built.

Each side declares what it is, once: a network class its ``output`` (``dense``: a map the
size of its input; ``vector``: one score per class; ``frame_vectors``: one
vector per waveform frame; ``clip_vector``: one per waveform clip), a data module class
what its batches hold (``provides``: ``image_mask_pairs``, ...), a task class its ``kind``,
whose entry in :mod:`shiftlab.tasks.kinds` says what it needs of both. Sizes are not part of
the check: tasks pad inputs to the network's ``size_multiple`` and crop outputs back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig

from shiftlab.config.choices import chosen_option
from shiftlab.config.location import config_dir
from shiftlab.errors import ConfigError
from shiftlab.tasks.kinds import NETWORK_OUTPUTS, SAMPLES, TaskKind, task_kind


def check_fits(cfg: DictConfig) -> None:
    """The data, then the model, of a composed config against its task."""
    task, data, model = (cfg.get(group) for group in ("task", "data", "model"))
    if not _has_target(task):
        return
    if _has_target(data):
        check_data_fits_task(
            data._target_, task._target_, chosen_option("data"), chosen_option("task")
        )
    if _has_target(model):
        check_model_fits_task(model._target_, task._target_, chosen_option("model"))


def check_model_fits_task(model_target: str, task_target: str, choice: str | None) -> None:
    """Refuse a network whose output the task cannot use, naming the model options that fit."""
    produces = getattr(_class(model_target), "output", None)
    kind = kind_of_task(task_target)
    if produces is None or kind is None or produces in kind.network_outputs:
        return
    name = f"model={choice}" if choice else model_target
    needs = " or ".join(NETWORK_OUTPUTS[output] for output in kind.network_outputs)
    fitting = ", ".join(o for need in kind.network_outputs for o in model_options(need))
    raise ConfigError(
        f"{name} outputs {NETWORK_OUTPUTS[produces]}, but the {kind.name} task needs "
        f"{needs}. Model options that fit this task: {fitting or 'none'}."
    )


def check_data_fits_task(
    data_target: str, task_target: str, data_choice: str | None, task_choice: str | None
) -> None:
    """Refuse data whose batches the task cannot train on, naming the task options that can."""
    provides = getattr(_class(data_target), "provides", None)
    kind = kind_of_task(task_target)
    if provides is None or kind is None or provides == kind.trains_on:
        return
    data = f"data={data_choice}" if data_choice else data_target
    task = f"task={task_choice}" if task_choice else f"the {kind.name} task"
    fitting = ", ".join(task_options(provides)) or "none"
    raise ConfigError(
        f"{task} cannot train on {data}: that data gives {SAMPLES[provides]}, and the "
        f"{kind.name} task needs {SAMPLES[kind.trains_on]}. Task options that can use this "
        f"data: {fitting} (choose one with task=<option>)."
    )


def kind_of_task(task_target: str) -> TaskKind | None:
    """The registered kind of a task class; None for a LightningModule that is no shiftlab
    task (nothing to check it against)."""
    name = getattr(_class(task_target), "kind", None)
    return None if name is None else task_kind(name, task_target)


def model_options(output: str) -> list[str]:
    """Options of the ``model`` group whose network outputs ``output``."""
    return _options("model", lambda cls: getattr(cls, "output", None) == output)


def task_options(provides: str) -> list[str]:
    """Options of the ``task`` group whose task trains on the samples ``provides``."""

    def trains_on(cls: type) -> bool:
        name = getattr(cls, "kind", None)
        return name is not None and task_kind(name, cls.__name__).trains_on == provides

    return _options("task", trains_on)


def _options(group_name: str, fits: Callable[[type], bool]) -> list[str]:
    group = config_dir() / group_name
    options = []
    for path in sorted(group.glob("*.yaml")):
        target = _target(path, group)
        if target and fits(_class(target)):
            options.append(path.stem)
    return options


def _class(target: str) -> Any:
    from hydra.utils import get_class

    return get_class(target)


def _has_target(node: Any) -> bool:
    return isinstance(node, DictConfig) and "_target_" in node


def _target(path: Path, group: Path) -> str | None:
    """The ``_target_`` of an option, following its defaults within the group."""
    node: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    if "_target_" in node:
        return node["_target_"]
    for entry in node.get("defaults") or []:
        if isinstance(entry, str) and entry != "_self_" and (group / f"{entry}.yaml").is_file():
            return _target(group / f"{entry}.yaml", group)
    return None
