"""The body of ``shiftlab train``: composed config in, fitted and tested model out.

Each step is one call a reader can find: data module, network, task, trainer, fit, test.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, ProgressBar
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from shiftlab.config.choices import chosen_option
from shiftlab.events.callback import RunEventsCallback
from shiftlab.events.run_events import RunEvents
from shiftlab.run.allocator import keep_freed_memory
from shiftlab.run.building import build, build_task
from shiftlab.run.checkpoints import check_checkpoint_fits
from shiftlab.run.compiling import compile_network
from shiftlab.run.distributed import DDP_ENV, end_process_group
from shiftlab.run.events import open_run_events
from shiftlab.run.logs import route_library_logs
from shiftlab.run.ranks import is_rank_zero
from shiftlab.run.summary import (
    flat_hyperparameters,
    hyperparameters,
    monitored_column,
    print_metrics_table,
    scalar_metrics,
    write_json,
)
from shiftlab.tasks.fitting import check_fits

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit the composed task on the composed data, test the best checkpoint, return metrics.

    Writes into ``cfg.paths.output_dir``: ``config.yaml`` (the resolved config),
    ``checkpoints/``, ``tensorboard/`` and ``metrics.json``.
    """
    saved_env = {key: os.environ.get(key) for key in DDP_ENV}
    try:
        return _train(cfg)
    finally:
        end_process_group(saved_env)


def _train(cfg: DictConfig) -> dict[str, Any]:
    started = time.perf_counter()
    route_library_logs()
    check_fits(cfg)
    _set_threads(cfg.get("threads"))
    keep_freed_memory(bool(cfg.get("keep_freed_memory", True)))
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if is_rank_zero():
        OmegaConf.save(OmegaConf.create(resolved), output_dir / "config.yaml")

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = build(cfg.data, "data")
    task = build_task(cfg, datamodule)
    task.run_config = resolved
    compile_report = compile_network(task, cfg.get("compile"))
    loggers: list[Logger] = [
        build(node, f"logger.{name}") for name, node in _items(cfg.get("logger"))
    ]
    callbacks = [build(node, f"callbacks.{name}") for name, node in _items(cfg.get("callbacks"))]
    callbacks = _compatible_callbacks(callbacks, cfg, loggers)
    if compile_report is not None:
        callbacks.append(compile_report)
    pruning = _trial_pruning(cfg, task.monitor)
    if pruning is not None:
        callbacks.append(pruning)
    events = open_run_events(cfg, output_dir)
    if events.publishers:
        callbacks.append(RunEventsCallback(events))
    try:
        return _fit_and_test(cfg, task, datamodule, loggers, callbacks, pruning, events, started)
    except BaseException as err:
        events.emit("run_failed", error=str(err), error_type=type(err).__name__)
        raise
    finally:
        events.close()


def _fit_and_test(
    cfg: DictConfig,
    task: Any,
    datamodule: Any,
    loggers: list[Logger],
    callbacks: list,
    pruning: Any,
    events: RunEvents,
    started: float,
) -> dict[str, Any]:
    output_dir = Path(cfg.paths.output_dir)
    trainer: L.Trainer = build(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False)
    if trainer.is_global_zero:
        log.info("Device: %s", _device_line(trainer))

    if cfg.get("ckpt_path"):
        check_checkpoint_fits(cfg.ckpt_path, task.kind, chosen_option("task"))

    metrics: dict[str, Any] = {}
    if cfg.get("train", True):
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics.update(scalar_metrics(trainer.callback_metrics))
    checkpoint = _checkpoint_callback(trainer)
    if checkpoint is not None and checkpoint.best_model_score is not None:
        metrics[f"{checkpoint.monitor}_best"] = float(checkpoint.best_model_score)
    pruned = pruning is not None and pruning.pruned_epoch is not None
    if cfg.get("test", True) and not pruned:  # a pruned trial is not worth its test
        # The best checkpoint of this fit; without a fit, the checkpoint the user named.
        best = checkpoint.best_model_path if checkpoint is not None else ""
        trainer.test(
            task, datamodule=datamodule, ckpt_path=best or cfg.get("ckpt_path"), verbose=False
        )
        metrics.update(scalar_metrics(trainer.callback_metrics))
        if trainer.is_global_zero:
            print_metrics_table({k: v for k, v in metrics.items() if k.startswith("test/")})

    # the network's size: a second objective of multi-objective searches (iou up, size down)
    metrics["model/parameters"] = float(sum(p.numel() for p in task.net.parameters()))
    summary = {
        "status": "pruned" if pruned else "completed",
        "kind": task.kind,
        "monitor": task.monitor,
        "monitor_mode": task.monitor_mode,
        "metrics": metrics,
        "best_checkpoint": (checkpoint.best_model_path or None) if checkpoint else None,
        "last_checkpoint": (checkpoint.last_model_path or None) if checkpoint else None,
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    if pruned:
        summary["pruned_epoch"] = pruning.pruned_epoch
    if events.publishers:
        events.emit("run_completed", status=summary["status"], metrics=metrics,
                    best_checkpoint=summary["best_checkpoint"],
                    wall_time_s=summary["wall_time_s"])  # fmt: skip
        sent = events.sequence
        summary["events"] = {"run_id": events.run_id, "sent": sent, "dropped": events.close()}
    if trainer.is_global_zero:
        write_json(output_dir / "metrics.json", summary)
        # the status is a setting column in the HParams view: completed, or pruned by a search
        params = {**hyperparameters(cfg), "run/status": summary["status"]}
        if (cfg.get("search") or {}).get("trial") is not None:
            params["search/trial"] = int(cfg.search.trial)
        shown = {**metrics, **monitored_column(metrics, task.monitor, task.monitor_mode)}
        _log_hyperparameters(trainer.loggers, params, metrics, trainer.global_step, shown)
        _log_run_files(trainer.loggers, output_dir, summary["best_checkpoint"])
        log.info("Run directory: %s", output_dir)
    return metrics


def _device_line(trainer: L.Trainer) -> str:
    """Where the run computes, in one line (instead of Lightning's GPU/TPU/HPU banners); a
    GPU left unused is mentioned, since that is something a user can change."""
    import torch

    device = trainer.strategy.root_device
    if device.type == "cuda":
        text = f"{device} ({torch.cuda.get_device_name(device)})"
    elif device.type == "cpu":
        text = f"cpu, {torch.get_num_threads()} thread(s)"
        if torch.cuda.is_available():
            text += "; a GPU is available: trainer.accelerator=gpu uses it"
    else:
        text = str(device)
    if trainer.world_size > 1:
        text += f", {trainer.world_size} processes"
    return text


def _set_threads(requested: int | None) -> None:
    """Share the cores among a sweep's parallel jobs (see ``shiftlab.sweeps.threads``)."""
    import torch

    from shiftlab.sweeps.threads import threads_for_job

    threads = threads_for_job(requested)
    if threads is not None:
        torch.set_num_threads(threads)
        log.info("torch uses %d CPU thread(s) in this job", threads)


def _trial_pruning(cfg: DictConfig, monitor: str) -> Any:
    """The callback that reports to an Optuna study, when this run is one of its trials and
    the search prunes (``search.*``, set by shiftlab's Optuna sweeper)."""
    search = cfg.get("search")
    if not search or search.get("trial") is None or not search.get("pruning"):
        return None
    from hydra.core.hydra_config import HydraConfig

    from shiftlab.sweeps.pruning import TrialPruning

    settings = HydraConfig.get().sweeper.get("pruner") if HydraConfig.initialized() else None
    if isinstance(settings, DictConfig):
        settings = OmegaConf.to_container(settings)
    return TrialPruning(search.storage, search.study, int(search.trial), monitor, settings)


def _compatible_callbacks(callbacks: list, cfg: DictConfig, loggers: list[Logger]) -> list:
    """Leave out callbacks that other choices switch off, instead of failing the run.

    ``trainer.enable_progress_bar=false`` drops the progress bar, and ``logger=none`` drops
    the learning-rate monitor (it has nowhere to write); Lightning would refuse both.
    """
    if not cfg.trainer.get("enable_progress_bar", True):
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if not loggers:
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    return callbacks


def _log_hyperparameters(
    loggers: list[Logger],
    params: dict[str, Any],
    metrics: dict[str, float],
    step: int,
    tensorboard_metrics: dict[str, float] | None = None,
) -> None:
    """Record the settings with the final metrics: TensorBoard shows them in its HParams view
    (with ``tensorboard_metrics``: the metrics plus the monitored metric's column)."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            _log_tensorboard_session(logger, params, tensorboard_metrics or metrics, step)
        else:
            logger.log_hyperparams(params)
            # what Lightning did not log already: the best score, the model's size
            final = {k: v for k, v in metrics.items()
                     if k.endswith("_best") or k.startswith("model/")}  # fmt: skip
            logger.log_metrics(final, step)
        logger.save()


def _log_run_files(loggers: list[Logger], output_dir: Path, best_checkpoint: str | None) -> None:
    """Hand the run's files (config, metrics, best checkpoint) to the trackers that keep
    artefacts (``log_run_files``: MLflow, W&B); a tracker that fails costs a warning, not
    the run, whose files are all on disk already."""
    for logger in loggers:
        keep = getattr(logger, "log_run_files", None)
        if keep is None:
            continue
        try:
            keep(output_dir, best_checkpoint)
        except Exception as err:
            log.warning("%s could not store the run's files: %s: %s", type(logger).__name__,
                        type(err).__name__, err)  # fmt: skip


def _log_tensorboard_session(
    logger: TensorBoardLogger, params: dict[str, Any], metrics: dict[str, float], step: int
) -> None:
    """Write this run's HParams session (settings, final metrics) without an experiment.

    With no experiment summary in any run, TensorBoard builds the HParams table from all
    sessions under its log dir: the columns are the union of every job's settings and
    metrics, so the jobs of a sweep over different models or tasks stay comparable. (An
    experiment summary per run would make it take one arbitrary run's columns for all.)
    """
    from torch.utils.tensorboard.summary import hparams

    logger.log_metrics(metrics, step)
    _, session_start, session_end = hparams(flat_hyperparameters(params), metrics)
    writer = logger.experiment._get_file_writer()
    writer.add_summary(session_start, step)
    writer.add_summary(session_end, step)


def _items(node: DictConfig | None) -> list[tuple[str, DictConfig]]:
    """The ``_target_`` entries of a group that holds several (callbacks, logger)."""
    if not node:
        return []
    return [(k, v) for k, v in node.items() if isinstance(v, DictConfig) and "_target_" in v]


def _checkpoint_callback(trainer: L.Trainer) -> ModelCheckpoint | None:
    return (
        trainer.checkpoint_callback
        if isinstance(trainer.checkpoint_callback, ModelCheckpoint)
        else None
    )
