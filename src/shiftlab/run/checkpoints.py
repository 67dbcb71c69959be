"""Read shiftlab checkpoints safely and rebuild the model they hold.

Checkpoints hold plain data only (tensors, numbers, strings, lists, dicts), so they load
with ``torch.load(weights_only=True)``: opening a checkpoint never runs pickled code. The
config a checkpoint (or an exported model) carries is built again by ``eval``, ``predict``
and ``export``, so its ``_target_``s are checked first: a file from elsewhere may name the
classes shiftlab builds for its runs, and nothing else (see :func:`check_stored_targets`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shiftlab.errors import ShiftlabError
from shiftlab.tasks.kinds import TaskKind, task_kind

# Packages whose classes a stored config may build (classes only: CamelCase names).
TRUSTED_PACKAGES = (
    "shiftlab",
    "torch.nn",
    "torch.optim",
    "albumentations",
    "segmentation_models_pytorch",
    "timm",
    "lightning.pytorch",
)
# More packages to trust, comma-separated, for models built from your own code.
TRUST_VARIABLE = "SHIFTLAB_TRUSTED_TARGETS"
# The groups of a stored config that eval, predict and export build (callbacks and loggers
# are a training run's own, and are not built from a stored config).
BUILT_GROUPS = ("data", "model", "task", "optimizer", "scheduler", "trainer")
# Targets of earlier versions, read under their current names.
RENAMED_TARGETS = {
    "shiftlab.checkpoint_io.AtomicCheckpointIO": "shiftlab.run.checkpoint_io.AtomicCheckpointIO",
    "shiftlab.distributed.HydraDDPStrategy": "shiftlab.run.distributed.HydraDDPStrategy",
}


@dataclass
class StoredModel:
    """What a checkpoint says about its model (the ``shiftlab`` entry), and its path."""

    path: Path
    kind: str
    config: dict[str, Any]
    data_facts: dict[str, Any]
    metrics: dict[str, float]
    version: str

    @property
    def task_kind(self) -> TaskKind:
        """What the model's task is: what predict reads and writes, how export feeds it."""
        return task_kind(self.kind, str(self.path))

    def description(self) -> dict[str, Any]:
        """Metadata embedded in exported models (ONNX ``metadata_props``)."""
        return {
            "shiftlab_version": self.version,
            "kind": self.kind,
            "config": self.config,
            "data_facts": self.data_facts,
            "metrics": self.metrics,
        }


def read_checkpoint(path: str | Path) -> tuple[StoredModel, dict[str, Any]]:
    """The model description and the weights (``state_dict``) of a shiftlab checkpoint."""
    info, state_dict = _load(Path(path))
    return stored_model(Path(path), info), state_dict


def _load(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``shiftlab`` entry and the weights of a checkpoint file, loaded without pickle."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ShiftlabError(
            f"ckpt_path: no checkpoint at {path}. Pass a file a training run wrote, e.g. "
            "ckpt_path=outputs/train/runs/<time>/checkpoints/last.ckpt."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ShiftlabError(
            f"ckpt_path: {path} cannot be read as a checkpoint ({type(err).__name__}). It "
            "is truncated or not a PyTorch checkpoint; use last.ckpt or the best "
            "epoch_NNN.ckpt of a run."
        ) from None
    info = checkpoint.get("shiftlab") if isinstance(checkpoint, dict) else None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict) or not info["config"]:
        raise ShiftlabError(
            f"ckpt_path: {path} is not a shiftlab checkpoint (it carries no shiftlab config). "
            "Pass a checkpoint written by `shiftlab train`."
        )
    state_dict = checkpoint.get("state_dict")
    if not isinstance(state_dict, dict):
        raise ShiftlabError(
            f"ckpt_path: {path} carries no weights (no state_dict). Pass a checkpoint written "
            "by `shiftlab train`."
        )
    return info, state_dict


def stored_model(path: Path, info: dict[str, Any]) -> StoredModel:
    """The model description of a checkpoint's ``shiftlab`` entry (or an ONNX model's
    metadata), its kind known and its config's targets checked."""
    kind = task_kind(str(info.get("kind")), str(path)).name
    if not isinstance(info.get("config"), dict):
        raise ShiftlabError(
            f"{path} carries no shiftlab config; use a model written by `shiftlab train` or "
            "`shiftlab export`."
        )
    return StoredModel(
        path=path,
        kind=kind,
        config=_checked_config(info["config"], path),
        data_facts=dict(info.get("data_facts") or {}),
        metrics=dict(info.get("metrics") or {}),
        version=str(info.get("version", "unknown")),
    )


def _checked_config(config: dict[str, Any], path: Path) -> dict[str, Any]:
    """The stored config with the groups that are built again checked (see below)."""
    return {
        key: check_stored_targets(value, path) if key in BUILT_GROUPS else value
        for key, value in config.items()
    }


def check_stored_targets(config: Any, path: Path) -> Any:
    """``config`` with earlier versions' targets renamed; refuses a target outside
    :data:`TRUSTED_PACKAGES` (and the packages listed in ``SHIFTLAB_TRUSTED_TARGETS``).

    Building a stored config calls every ``_target_`` in it: a checkpoint or model file
    from elsewhere could otherwise run any function (``os.system``, a file writer) on the
    machine that evaluates it. Classes of the trusted packages are what shiftlab's own
    configs build; a function, or a module outside them, is refused before anything runs.
    """
    if isinstance(config, list):
        return [check_stored_targets(item, path) for item in config]
    if not isinstance(config, dict):
        return config
    checked = {key: check_stored_targets(value, path) for key, value in config.items()}
    target = checked.get("_target_")
    if target is not None:
        target = RENAMED_TARGETS.get(str(target), str(target))
        if not _trusted(target):
            raise ShiftlabError(
                f"{path} asks to build {target!r}, which is not a class of the packages "
                f"shiftlab builds from stored files ({', '.join(TRUSTED_PACKAGES)}); building "
                "it would run code that the file chose. Use a model file you trust. If the "
                "model is built from your own code, name its package in the environment: "
                f"{TRUST_VARIABLE}=<package>."
            )
        checked["_target_"] = target
    return checked


def _trusted(target: str) -> bool:
    extra = [p.strip() for p in os.environ.get(TRUST_VARIABLE, "").split(",") if p.strip()]
    if any(target.startswith(f"{package}.") for package in extra):
        return True
    module, _, name = target.rpartition(".")
    in_package = any(module == p or module.startswith(f"{p}.") for p in TRUSTED_PACKAGES)
    return in_package and name[:1].isupper() and name.isidentifier()


def check_checkpoint_fits(path: str | Path, kind: str, task_choice: str | None) -> None:
    """Refuse, before training starts, a checkpoint written for another kind of task.

    Only the kind is read: the run builds its own config, not the checkpoint's."""
    info, _ = _load(Path(path))
    if info.get("kind") != kind:
        task = f"task={task_choice}" if task_choice else f"the {kind} task"
        raise ShiftlabError(
            f"ckpt_path: {path} holds a {info.get('kind')} model, but this run is {task} "
            f"({kind}). Continue a run with the config it was trained with (resume=<its run "
            "directory>), or choose a checkpoint of this task."
        )


def load_task(stored: StoredModel, state_dict: dict[str, Any]):
    """The trained task (network and its pre/post-processing), in eval mode on the CPU."""
    from omegaconf import OmegaConf

    from shiftlab.run.building import task_from_config

    task = task_from_config(OmegaConf.create(stored.config), stored.data_facts)
    task.load_state_dict(state_dict)
    task.run_config = stored.config
    return task.eval()
