"""``shiftlab export ckpt_path=... [format=onnx] [output=...]``."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from shiftlab.cli.errors import reported
from shiftlab.config.location import config_dir
from shiftlab.errors import ConfigError

log = logging.getLogger("shiftlab.export")


@hydra.main(config_path=str(config_dir()), config_name="export", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with reported(log):
        from shiftlab.inference.exporting import export_onnx
        from shiftlab.run.checkpoints import read_checkpoint

        if cfg.format != "onnx":
            raise ConfigError(f"format={cfg.format} is not an export format; use format=onnx.")
        stored, state_dict = read_checkpoint(cfg.ckpt_path)
        output = Path(cfg.output) if cfg.output else Path(cfg.ckpt_path).with_suffix(".onnx")
        result = export_onnx(stored, state_dict, output, float(cfg.tolerance))
        worst = max(result.max_abs_diff.values())
        log.info("Exported %s (max |ONNX - PyTorch| %.3g)", result.path, worst)
