"""Read shiftlab checkpoints safely and rebuild the model they hold.

Checkpoints hold plain data only (tensors, numbers, strings, lists, dicts), so they load
with ``torch.load(weights_only=True)``: opening a checkpoint never runs pickled code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shiftlab.errors import ShiftlabError

KINDS = ("regression", "segmentation", "classification")


@dataclass
class StoredModel:
    """What a checkpoint says about its model (the ``shiftlab`` entry), and its path."""

    path: Path
    kind: str
    config: dict[str, Any]
    data_facts: dict[str, Any]
    metrics: dict[str, float]
    version: str

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
    if not info or not info.get("config"):
        raise ShiftlabError(
            f"ckpt_path: {path} is not a shiftlab checkpoint (it carries no shiftlab config). "
            "Pass a checkpoint written by `shiftlab train`."
        )
    config = info["config"]
    kind = info.get("kind") or _kind_from_target(config.get("task", {}).get("_target_", ""))
    stored = StoredModel(
        path=path,
        kind=kind,
        config=config,
        data_facts=dict(info.get("data_facts") or {}),
        metrics=dict(info.get("metrics") or {}),
        version=str(info.get("version", "unknown")),
    )
    return stored, checkpoint["state_dict"]


def check_checkpoint_fits(path: str | Path, kind: str, task_choice: str | None) -> None:
    """Refuse, before training starts, a checkpoint written for another kind of task."""
    stored, _ = read_checkpoint(path)
    if stored.kind != kind:
        task = f"task={task_choice}" if task_choice else f"the {kind} task"
        raise ShiftlabError(
            f"ckpt_path: {path} holds a {stored.kind} model, but this run is {task} "
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


def _kind_from_target(target: str) -> str:
    for name, kind in (
        ("Regression", "regression"),
        ("Segmentation", "segmentation"),
        ("Classification", "classification"),
    ):
        if name in target:
            return kind
    raise ShiftlabError(f"The checkpoint's task {target!r} is not one shiftlab can predict with.")
