"""``shiftlab train``: compose ``conf/train.yaml`` with the overrides, fit, then test.

Composing, printing (``--cfg``) and ``--help`` import neither torch nor Lightning; the
training body is imported only when a run starts.
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from shiftlab.errors import ShiftlabError
from shiftlab.paths import config_dir

log = logging.getLogger("shiftlab.train")


@hydra.main(config_path=str(config_dir()), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Train; return the monitored metric (what a sweep optimises)."""
    from shiftlab.training import monitored_value, train

    try:
        metrics = train(cfg)
    except ShiftlabError as err:
        # A user's mistake: one paragraph (console and log file), no traceback.
        log.error("%s", err)
        raise SystemExit(1) from None
    return monitored_value(metrics, cfg.task.monitor)
