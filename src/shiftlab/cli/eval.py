"""``shiftlab eval ckpt_path=... [overrides of the stored config]``.

Before Hydra composes ``conf/eval.yaml``, the checkpoint's stored config is registered as
the config option ``checkpoint/stored``, which ``eval.yaml`` puts first in its defaults: the
user's overrides (``data.root=...``) then apply to the stored config as to any other.
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from shiftlab.cli.errors import reported
from shiftlab.config.location import config_dir
from shiftlab.run.launch import check_config

log = logging.getLogger("shiftlab.eval")


@hydra.main(config_path=str(config_dir()), config_name="eval", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    with reported(log):
        check_config(cfg)  # the stored config with the user's overrides, before torch
        from shiftlab.inference.evaluating import evaluate

        evaluate(cfg)


def main() -> None:
    ckpt = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("ckpt_path=")]
    if ckpt and not any(a in ("--help", "-h", "--hydra-help") for a in sys.argv[1:]):
        with reported(log):
            _register_stored_config(ckpt[-1].strip("'\""))
    _app()


def _register_stored_config(path: str) -> None:
    from hydra.core.config_store import ConfigStore

    from shiftlab.run.checkpoints import read_checkpoint

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stored, _ = read_checkpoint(path)
    ConfigStore.instance().store(group="checkpoint", name="stored", node=stored.config)
