"""``shiftlab runs [dir]``: the runs and sweep jobs under ``outputs/`` (or ``dir``), newest
first, from the files in their directories. Imports no torch: it answers in well under a
second for hundreds of runs."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from shiftlab.cli.errors import reported
from shiftlab.config.location import config_dir

log = logging.getLogger("shiftlab.runs")


@hydra.main(config_path=str(config_dir()), config_name="runs", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from shiftlab.sweeps.run_list import find_runs, metric_filter, select, to_csv, to_table

    log_dir = Path(str(cfg.dir)) if cfg.dir else Path(str(cfg.paths.log_dir))
    with reported(log):
        if cfg.where:
            metric_filter(str(cfg.where))  # a mistyped threshold is said before any reading
        rows = select(find_runs(log_dir), cfg.task_name, cfg.status, cfg.where)
    shown = rows[: int(cfg.limit)] if cfg.limit else rows
    if cfg.csv:
        print(to_csv(shown, log_dir), end="")
        return
    if not rows:
        print(f"No runs under {log_dir} match.")
        return
    print(to_table(shown, log_dir))
    if len(shown) < len(rows):
        print(f"(the newest {len(shown)} of {len(rows)}; limit=null shows all)")
