"""``shiftlab report [sweep dir]``: rebuild and print the report of a sweep; with
``storage=`` (and ``study=``), the report of an Optuna study from its storage alone.

Reads only what the jobs left on disk (``.hydra/overrides.yaml``, ``metrics.json``,
``planned_jobs.yaml``), so it works for a running, finished or interrupted sweep and
imports no torch.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from shiftlab.cli.errors import reported
from shiftlab.config.location import config_dir
from shiftlab.errors import ShiftlabError

log = logging.getLogger("shiftlab.report")


@hydra.main(config_path=str(config_dir()), config_name="report", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from shiftlab.sweeps.report import to_markdown, write_report

    if cfg.get("storage"):
        from shiftlab.sweeps.study_report import study_markdown

        with reported(log):
            text = study_markdown(str(cfg.storage), cfg.get("study"))
        print(text)
        return
    with reported(log):
        sweep_dir = Path(cfg.sweep_dir) if cfg.sweep_dir else newest_sweep(Path(cfg.paths.log_dir))
        report, csv_path, md_path = write_report(sweep_dir)
    print(to_markdown(report))
    log.info("Wrote %s and %s", md_path, csv_path)


def newest_sweep(log_dir: Path) -> Path:
    """The most recently started multirun directory under ``log_dir``."""
    sweeps = [p for p in log_dir.glob("*/multiruns/*") if p.is_dir()]
    if not sweeps:
        raise ShiftlabError(
            f"No sweep found under {log_dir}/*/multiruns/. Run one first (`shiftlab train -m "
            "optimizer.lr=1e-3,3e-4`), or name its directory: `shiftlab report <sweep dir>` "
            "(or set paths.log_dir if your runs go elsewhere)."
        )
    return max(sweeps, key=lambda p: p.stat().st_mtime)
