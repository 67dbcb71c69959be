"""Hydra callback: one MLflow parent run per sweep, the jobs its children.

When a multirun's config chooses ``logger=mlflow``, the launching process makes the parent
run (named after the sweep directory) before any job starts and records its id in the
sweep directory (:mod:`shiftlab.trackers.sweep_link`); each job's logger reads it and tags
its run ``mlflow.parentRunId``. When the sweep ends, the parent gets the sweep report
(``report.md``, ``report.csv``) as artefacts, the best job's objective as a metric, and its
status (FAILED when no job completed).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from shiftlab.sweeps.jobs import COMPLETED
from shiftlab.sweeps.report import build_report
from shiftlab.trackers.sweep_link import write_link

log = logging.getLogger("shiftlab.trackers")

MLFLOW_LOGGER = "shiftlab.trackers.mlflow.MLflowLogger"


class MLflowSweepParent(Callback):
    """Make, and at the end close, the parent run of a sweep logged to MLflow."""

    def __init__(self) -> None:
        self.client: Any = None
        self.run_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        node = _mlflow_node(config)
        if node is None:
            return
        try:
            from mlflow.tracking import MlflowClient
            from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

            from shiftlab.trackers.mlflow import default_artifact_location, local_tracking_uri

            uri = local_tracking_uri(str(node.tracking_uri))
            self.client = MlflowClient(uri)
            name = str(node.experiment_name)
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None or experiment.lifecycle_stage == "deleted":
                location = node.get("artifact_location") or default_artifact_location(uri)
                experiment_id = self.client.create_experiment(name, artifact_location=location)
            else:
                experiment_id = experiment.experiment_id
            sweep_dir = Path(str(config.hydra.sweep.dir))
            run = self.client.create_run(experiment_id, tags={
                MLFLOW_RUN_NAME: f"sweep {sweep_dir.name}",
                "shiftlab.sweep_dir": str(sweep_dir.resolve()),
                "shiftlab.overrides": " ".join(config.hydra.overrides.task),
            })  # fmt: skip
            self.run_id = run.info.run_id
            write_link(sweep_dir, "mlflow", {"tracking_uri": uri, "run_id": self.run_id,
                                             "experiment_id": experiment_id})  # fmt: skip
            log.info("MLflow: the sweep's jobs are children of run %s (%s)", self.run_id, uri)
        except Exception as err:  # the jobs still log, as runs of their own
            log.warning("MLflow: no parent run for this sweep (%s: %s); each job logs on its "
                        "own.", type(err).__name__, err)  # fmt: skip
            self.run_id = None

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.run_id is None:
            return
        status = "FAILED"
        try:
            report = build_report(Path(str(config.hydra.sweep.dir)))
            for path in (report.sweep_dir / "report.md", report.sweep_dir / "report.csv"):
                if path.is_file():
                    self.client.log_artifact(self.run_id, str(path))
            for monitor, job in report.best.items():
                self.client.log_metric(self.run_id, f"best/{monitor}", float(job.objective))
                self.client.set_tag(self.run_id, f"shiftlab.best_job/{monitor}", str(job.number))
            if any(job.status == COMPLETED for job in report.jobs):
                status = "FINISHED"
        finally:
            self.client.set_terminated(self.run_id, status)


def _mlflow_node(config: DictConfig) -> DictConfig | None:
    """The ``logger.*`` entry that is shiftlab's MLflow logger, if the sweep chose one."""
    loggers = config.get("logger") or {}
    for node in loggers.values():
        if isinstance(node, DictConfig) and OmegaConf.select(node, "_target_") == MLFLOW_LOGGER:
            return node
    return None
