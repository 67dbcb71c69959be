"""What a run records about itself: hyperparameters for TensorBoard, its metrics (as a table
in the log and in ``metrics.json``) and the value a sweep optimises."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from shiftlab.config.choices import group_choices

log = logging.getLogger(__name__)

# Groups whose values describe the experiment (paths, loggers and Hydra's own settings do not).
HPARAM_GROUPS = ("model", "data", "task", "optimizer", "scheduler", "trainer")


def hyperparameters(cfg: DictConfig) -> dict[str, Any]:
    """The experiment's settings as a nested dict for TensorBoard's HParams view.

    Includes the option chosen in each config group (``choice/model: tsconv_unet``), the
    settings this run changed from the command line (``Override/optimizer.lr``: a sweep's
    swept keys), and the seed. TensorBoard's HParams table shows the first five settings that
    differ between runs, by name, and capitals sort first: what a run changed is in view
    without a click, while the whole config stays one checkbox away.
    """
    params: dict[str, Any] = {"seed": cfg.get("seed")}
    overridden = overridden_settings()
    if overridden:
        params[OVERRIDE_PREFIX] = overridden
    params["choice"] = group_choices()
    for group in HPARAM_GROUPS:
        if group in cfg and cfg[group] is not None:
            params[group] = OmegaConf.to_container(cfg[group], resolve=True)
    if isinstance(params.get("trainer"), dict):
        params["trainer"].pop("default_root_dir", None)  # the run's own directory: no setting
    return params


OVERRIDE_PREFIX = "Override"
# overrides that say where and how a run is recorded, not what it is
NOT_SETTINGS = ("hydra", "paths", "logger", "events", "search", "task_name", "resume", "threads",
                "trainer.enable_progress_bar", "callbacks.progress_bar")  # fmt: skip


def overridden_settings() -> dict[str, Any]:
    """The run's command-line overrides as ``{"optimizer.lr": 0.003, "model": "conv_unet"}``
    (values as YAML reads them; a removed key is ``(removed)``)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = list(HydraConfig.get().overrides.task)
    except (ImportError, ValueError):
        return {}
    settings: dict[str, Any] = {}
    for override in overrides:
        key, _, value = str(override).partition("=")
        removed = key.startswith("~")
        key = key.lstrip("+~")
        if not key or any(key == n or key.startswith(n + ".") for n in NOT_SETTINGS):
            continue
        if removed:
            settings[key] = "(removed)"
            continue
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        settings[key] = parsed if isinstance(parsed, (bool, int, float, str)) else value
    return settings


def monitored_column(metrics: dict[str, float], monitor: str, mode: str) -> dict[str, float]:
    """The monitored metric's best value under a name that sorts first among the HParams
    view's metric columns and says its direction: ``Monitored/val/iou (max)``."""
    value = metrics.get(f"{monitor}_best", metrics.get(monitor))
    return {} if value is None else {f"Monitored/{monitor} ({mode})": float(value)}


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


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The metrics that are numbers (Lightning's tensors included), as floats."""
    out = {}
    for key, value in metrics.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def print_metrics_table(
    metrics: dict[str, float], title: str = "Test metrics (best checkpoint)"
) -> None:
    """Log ``metrics`` as an aligned two-column table (name, value), finite values only."""
    if not metrics:
        return
    width = max(len(k) for k in metrics)
    lines = [f"{k:<{width}}  {v:.6g}" for k, v in sorted(metrics.items()) if math.isfinite(v)]
    log.info("%s:\n%s", title, "\n".join(lines))


def monitored_value(metrics: dict[str, Any], monitor: str) -> float | None:
    """The value a sweep optimises: the best monitored value seen, else the last one."""
    value = metrics.get(f"{monitor}_best", metrics.get(monitor))
    return None if value is None else float(value)
