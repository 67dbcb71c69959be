"""What a run records about itself: hyperparameters for TensorBoard and a metrics file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

# Groups whose values describe the experiment (paths, loggers and Hydra's own settings do not).
HPARAM_GROUPS = ("model", "data", "task", "optimizer", "scheduler", "trainer")


def hyperparameters(cfg: DictConfig) -> dict[str, Any]:
    """The experiment's settings as a nested dict for TensorBoard's HParams view.

    Includes the option chosen in each config group (``choice/model: tsconv_unet``), so runs
    of a sweep can be told apart at a glance, and the seed.
    """
    params: dict[str, Any] = {"seed": cfg.get("seed")}
    params["choice"] = _group_choices()
    for group in HPARAM_GROUPS:
        if group in cfg and cfg[group] is not None:
            params[group] = OmegaConf.to_container(cfg[group], resolve=True)
    return params


def flat_hyperparameters(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optimizer": {"lr": 1e-3}}`` as ``{"optimizer/lr": 1e-3}``; values TensorBoard takes.

    Numbers, strings and booleans stay as they are (sortable columns); None and lists become
    text, so every value of every job has a column.
    """
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_hyperparameters(value, f"{name}/"))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


def chosen_option(group: str) -> str | None:
    """The option Hydra composed for ``group`` (``model`` → ``tsconv_unet``), for messages."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.choices.get(group) if HydraConfig.initialized() else None


def _group_choices() -> dict[str, str]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    choices = HydraConfig.get().runtime.choices
    return {k: str(v) for k, v in choices.items() if not k.startswith("hydra")}


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON through a temporary file, so readers never see half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


def write_failure(output_dir: Path, error: BaseException, wall_time_s: float) -> None:
    """Leave ``metrics.json`` saying the run failed and why, so a sweep report can list it.

    Files the run wrote before failing (config, checkpoints, events) stay where they are.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "status": "failed",
        "error": f"{type(error).__name__}: {error}",
        "wall_time_s": round(wall_time_s, 3),
    }
    write_json(output_dir / "metrics.json", summary)
