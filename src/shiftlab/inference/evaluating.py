"""``shiftlab eval``: the test split through a checkpoint's model, metrics to a table and JSON."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from shiftlab.errors import ConfigError

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    from shiftlab.run.allocator import keep_freed_memory
    from shiftlab.run.building import build
    from shiftlab.run.checkpoints import load_task, read_checkpoint
    from shiftlab.run.logs import route_library_logs
    from shiftlab.run.summary import print_metrics_table, scalar_metrics, write_json

    route_library_logs()
    keep_freed_memory(bool(cfg.get("keep_freed_memory", True)))
    stored, state_dict = read_checkpoint(cfg.ckpt_path)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        if "splits_file" in cfg.data:
            cfg.data.splits_file = str(output_dir / "splits.csv")
    datamodule = build(cfg.data, "data")
    _check_same_classes(stored.data_facts, datamodule)
    task = load_task(stored, state_dict)
    # One process, whatever the training used: DDP would pad the test split with repeated
    # samples so that every process gets as many, and metrics would count them twice.
    single = ("default_root_dir", "strategy", "num_nodes", "sync_batchnorm")
    trainer_cfg = {k: v for k, v in cfg.trainer.items() if k not in single}
    if trainer_cfg.get("devices") not in (None, 1):
        trainer_cfg["devices"] = 1
    trainer = build(
        DictConfig(trainer_cfg), "trainer", default_root_dir=str(output_dir), logger=False
    )
    trainer.test(task, datamodule=datamodule, verbose=False)
    found = scalar_metrics(trainer.callback_metrics)
    metrics = {k: v for k, v in found.items() if k.startswith("test/")}
    print_metrics_table(metrics, f"Test metrics ({Path(cfg.ckpt_path).name})")
    summary: dict[str, Any] = {
        "status": "completed",
        "checkpoint": str(Path(cfg.ckpt_path).resolve()),
        "metrics": metrics,
        "metrics_at_save": stored.metrics,
    }
    write_json(output_dir / "metrics.json", summary)
    log.info("Evaluation written to %s", output_dir / "metrics.json")
    return metrics


def _check_same_classes(facts: dict[str, Any], datamodule: Any) -> None:
    if not facts.get("class_names") or not hasattr(datamodule, "network_facts"):
        return
    found = datamodule.network_facts().get("class_names")
    if found and list(found) != list(facts["class_names"]):
        raise ConfigError(
            f"The data's classes {list(found)} are not the model's {facts['class_names']}; "
            "evaluate on data with the same classes (or set data.class_names to the model's)."
        )
