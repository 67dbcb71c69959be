"""``logger=mlflow``: Lightning's MLflow logger on the light ``mlflow-skinny`` client, with
what a team expects to find in its tracking server.

- the store: any tracking URI; by default a SQLite file under ``outputs/`` (a relative path
  is taken from the launch directory) with artefacts in ``mlartifacts/`` beside it;
- parameters: the flat chosen settings (``choice/model``, ``optimizer/lr``, ...), logged
  once (MLflow refuses a changed value, so a key logged again keeps its first value);
- metrics: every logged metric, and the run's final ones;
- artefacts: ``config.yaml`` (the resolved config), ``metrics.json`` and the best
  checkpoint (under ``checkpoints/``);
- a sweep's jobs are child runs of one parent run that the launching process made
  (:mod:`shiftlab.trackers.sweep_parent`).

Credentials for a remote server come from MLflow's own environment variables
(``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``), never from a config.
"""

from __future__ import annotations

import logging
from argparse import Namespace
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
from lightning.pytorch.loggers import MLFlowLogger as LightningMLFlowLogger

from shiftlab.errors import ConfigError
from shiftlab.trackers.sweep_link import current_sweep_dir, read_link, run_label

log = logging.getLogger("shiftlab.trackers")

PARENT_TAG = "mlflow.parentRunId"  # what MLflow's UI and search use to nest runs


def local_tracking_uri(uri: str) -> str:
    """``uri`` with a relative SQLite path made absolute (its folder created), so every job of
    a sweep, wherever it runs from, writes to the one store."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return uri
    path = Path(uri[len(prefix) :])
    path = path if path.is_absolute() else Path.cwd() / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return prefix + str(path)


def default_artifact_location(uri: str) -> str | None:
    """``mlartifacts/`` beside a SQLite store (MLflow would use ./mlruns of the launch
    directory); a tracking server keeps its own artefact store (None)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    return (Path(uri[len(prefix) :]).parent / "mlartifacts").as_uri()


class MLflowLogger(LightningMLFlowLogger):
    """Lightning's ``MLFlowLogger`` with shiftlab's parameters, artefacts and sweep parent.

    Args:
        experiment_name: the MLflow experiment (made when missing).
        tracking_uri: the store: ``sqlite:///path.db``, ``http(s)://server``, ``databricks``...
        run_name: the run's name in the UI (None: its run directory's, ``<time>`` or
            ``<sweep time> #<job>``).
        tags: extra tags for the run.
        artifact_location: where a new experiment keeps artefacts (None: beside a SQLite store,
            or the server's default).
        log_checkpoint: upload the best checkpoint as an artefact at the end of the run.
    """

    def __init__(
        self,
        experiment_name: str,
        tracking_uri: str,
        run_name: str | None = None,
        tags: dict[str, Any] | None = None,
        artifact_location: str | None = None,
        log_checkpoint: bool = True,
    ) -> None:
        try:
            import mlflow  # noqa: F401
        except ImportError as err:
            raise ConfigError(
                "logger=mlflow needs the MLflow client: pip install 'shiftlab[trackers]' "
                "(mlflow-skinny), or choose another logger."
            ) from err
        logging.getLogger("mlflow").setLevel(logging.WARNING)  # "Creating tables..." lines
        uri = local_tracking_uri(str(tracking_uri))
        tags = {str(k): str(v) for k, v in (tags or {}).items()}
        sweep_dir = current_sweep_dir()
        parent = read_link(sweep_dir, "mlflow")
        if parent and parent.get("tracking_uri") == uri:
            tags[PARENT_TAG] = parent["run_id"]
        if sweep_dir is not None:
            tags["shiftlab.sweep_dir"] = str(sweep_dir.resolve())
        super().__init__(
            experiment_name=str(experiment_name),
            run_name=run_name or run_label(),
            tracking_uri=uri,
            tags=tags,
            artifact_location=artifact_location or default_artifact_location(uri),
        )
        self.log_checkpoint = bool(log_checkpoint)
        self._logged_params: dict[str, str] = {}

    def log_hyperparams(self, params: dict[str, Any] | Namespace) -> None:
        """Log the parameters not logged yet (MLflow keeps a parameter's first value)."""
        flat = _flatten_dict(_convert_params(params))
        new = {}
        for key, value in flat.items():
            text = str(value)[:6000]  # MLflow's limit on a parameter's value
            if key in self._logged_params:
                if self._logged_params[key] != text:
                    log.debug("MLflow keeps %s=%s (not %s)", key, self._logged_params[key], text)
                continue
            new[key] = self._logged_params[key] = text
        if new:
            super().log_hyperparams(new)

    def log_run_files(self, run_dir: Path, best_checkpoint: str | None) -> None:
        """The resolved config, the metrics summary and the best checkpoint, as artefacts."""
        for name in ("config.yaml", "metrics.json"):
            path = Path(run_dir) / name
            if path.is_file():
                self.experiment.log_artifact(self.run_id, str(path))
        if self.log_checkpoint and best_checkpoint and Path(best_checkpoint).is_file():
            self.experiment.log_artifact(self.run_id, best_checkpoint, "checkpoints")
