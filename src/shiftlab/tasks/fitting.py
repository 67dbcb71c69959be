"""Which networks fit which tasks, checked at launch before anything is built.

A network class declares what it outputs (``output = "dense"``: a map the size of its input;
``"vector"``: one value per class); a task needs one of the two. Sizes are not part of the
check: tasks pad inputs to the network's ``size_multiple`` and crop outputs back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shiftlab.config.location import config_dir
from shiftlab.errors import ConfigError

NEEDS = {"regression": "dense", "segmentation": "dense", "classification": "vector"}
WORDS = {"dense": "a map the size of its input", "vector": "one score per class"}


def check_model_fits_task(model_target: str, task_target: str, choice: str | None) -> None:
    """Refuse a network whose output the task cannot use, naming the model options that fit."""
    from hydra.utils import get_class

    produces = getattr(get_class(model_target), "output", None)
    kind = getattr(get_class(task_target), "kind", None)
    needs = NEEDS.get(kind or "")
    if produces is None or needs is None or produces == needs:
        return
    name = f"model={choice}" if choice else model_target
    fitting = ", ".join(model_options(needs)) or "none"
    raise ConfigError(
        f"{name} outputs {WORDS[produces]}, but the {kind} task needs {WORDS[needs]}. "
        f"Model options that fit this task: {fitting}."
    )


def model_options(output: str) -> list[str]:
    """Options of the ``model`` group whose network outputs ``output``."""
    from hydra.utils import get_class

    group = config_dir() / "model"
    options = []
    for path in sorted(group.glob("*.yaml")):
        target = _target(path, group)
        if target and getattr(get_class(target), "output", None) == output:
            options.append(path.stem)
    return options


def _target(path: Path, group: Path) -> str | None:
    """The ``_target_`` of an option, following its defaults within the group."""
    node: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    if "_target_" in node:
        return node["_target_"]
    for entry in node.get("defaults") or []:
        if isinstance(entry, str) and entry != "_self_" and (group / f"{entry}.yaml").is_file():
            return _target(group / f"{entry}.yaml", group)
    return None
