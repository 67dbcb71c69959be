"""``shiftlab predict ckpt_path=<.ckpt | .onnx> input=<file | folder | glob> [output_dir=...]``."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from shiftlab.cli.errors import reported
from shiftlab.config.location import config_dir

log = logging.getLogger("shiftlab.predict")


@hydra.main(config_path=str(config_dir()), config_name="predict", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with reported(log):
        from shiftlab.inference.predicting import predict

        predict(
            str(cfg.ckpt_path),
            str(cfg.input),
            Path(cfg.output_dir),
            int(cfg.batch_size),
            chunk_frames=int(cfg.chunk_frames),
            chunk_overlap=int(cfg.chunk_overlap),
        )
