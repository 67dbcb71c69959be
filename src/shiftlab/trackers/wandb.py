"""``logger=wandb``: Lightning's Weights & Biases logger, offline by default (the run is
written under the run directory; ``wandb sync <run dir>/wandb/offline-run-*`` uploads it
later), with the content ``logger=mlflow`` has:

- the flat chosen settings as the run's config; every metric, and the final ones;
- ``config.yaml``, ``metrics.json`` (a ``run-files`` artefact) and the best checkpoint (a
  ``model`` artefact);
- a sweep's jobs in one group, named after the sweep directory.

The API key comes from ``WANDB_API_KEY`` (or ``wandb login``), never from a config.
"""

from __future__ import annotations

import logging
from argparse import Namespace
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger

from shiftlab.errors import ConfigError
from shiftlab.trackers.sweep_link import current_sweep_dir, run_label

log = logging.getLogger("shiftlab.trackers")


class WandbLogger(LightningWandbLogger):
    """Lightning's ``WandbLogger`` with shiftlab's artefacts and sweep groups.

    Args:
        project: the W&B project.
        save_dir: where the run's files go (the run directory).
        offline: write locally only; ``wandb sync`` uploads later.
        entity: the team or user (None: the key's default).
        name: the run's name (None: its run directory's, or ``<sweep time> #<job>``).
        group: runs shown together (None: a sweep's directory name, else none).
        tags: labels for the run.
        log_checkpoint: the best checkpoint as a ``model`` artefact at the end of the run.
    """

    def __init__(
        self,
        project: str,
        save_dir: str,
        offline: bool = True,
        entity: str | None = None,
        name: str | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
        log_checkpoint: bool = True,
    ) -> None:
        try:
            import wandb
        except ImportError as err:
            raise ConfigError(
                "logger=wandb needs the Weights & Biases client: pip install "
                "'shiftlab[trackers]' (wandb), or choose another logger."
            ) from err
        sweep_dir = current_sweep_dir()
        if group is None and sweep_dir is not None:
            group = sweep_dir.name
        super().__init__(
            project=str(project),
            save_dir=str(save_dir),
            offline=bool(offline),
            entity=entity,
            name=name or run_label(),
            group=group,
            tags=list(tags or []),
            job_type="sweep-job" if sweep_dir is not None else "train",
            settings=wandb.Settings(quiet=True),  # shiftlab says where the offline run is
        )
        self.log_checkpoint = bool(log_checkpoint)

    def log_hyperparams(self, params: dict[str, Any] | Namespace) -> None:
        """The settings flat (``optimizer/lr``), as ``logger=mlflow`` has them: one column
        per setting in the runs table."""
        super().log_hyperparams(_flatten_dict(_convert_params(params)))

    def log_run_files(self, run_dir: Path, best_checkpoint: str | None) -> None:
        """The resolved config and metrics summary, and the best checkpoint, as artefacts."""
        import wandb

        run = self.experiment
        files = wandb.Artifact(f"run-files-{run.id}", type="run-files")
        for name in ("config.yaml", "metrics.json"):
            path = Path(run_dir) / name
            if path.is_file():
                files.add_file(str(path))
        run.log_artifact(files)
        if self.log_checkpoint and best_checkpoint and Path(best_checkpoint).is_file():
            model = wandb.Artifact(f"model-{run.id}", type="model",
                                   metadata={"path": str(best_checkpoint)})  # fmt: skip
            model.add_file(str(best_checkpoint))
            run.log_artifact(model, aliases=["best"])
        where = run.dir and Path(run.dir).parent  # <save_dir>/wandb/offline-run-*/files
        run.finish()  # complete on disk; a sweep's next job starts its own run
        if self._offline and where:
            log.info("W&B run %s written offline; upload it with: wandb sync %s", run.id, where)

    def finalize(self, status: str) -> None:
        """A failed run is closed here (its exit code says so): the next job of a sweep in
        this process must start a run of its own, not continue this one."""
        super().finalize(status)
        if status == "failed" and self._experiment is not None:
            self._experiment.finish(exit_code=1)
