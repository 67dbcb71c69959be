"""``shiftlab train``: compose ``conf/train.yaml`` with the overrides, fit, then test.

Composing, printing (``--cfg``) and ``--help`` import neither torch nor Lightning; the
training body is imported only when a run starts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig

from shiftlab.errors import ShiftlabError
from shiftlab.paths import config_dir
from shiftlab.resolvers import register_resolvers

log = logging.getLogger("shiftlab.train")
register_resolvers()


@hydra.main(config_path=str(config_dir()), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Train; return the monitored metric (what a sweep optimises).

    A failed run leaves ``metrics.json`` with ``status: failed`` and its error. On its own,
    a user's mistake (a ShiftlabError) ends the command with one paragraph and exit code 1;
    in a sweep the error goes back to the sweeper, which records it and runs the next job.
    """
    from shiftlab.run_summary import write_failure
    from shiftlab.training import monitored_value, train

    started = time.perf_counter()
    try:
        metrics = train(cfg)
    except Exception as err:
        write_failure(Path(cfg.paths.output_dir), err, time.perf_counter() - started)
        if _in_sweep():
            expected = isinstance(err, ShiftlabError)
            log.error("This job failed: %s", err, exc_info=None if expected else err)
            raise
        if isinstance(err, ShiftlabError):
            log.error("%s", err)  # one paragraph (console and log file), no traceback
            raise SystemExit(1) from None
        raise
    return monitored_value(metrics, cfg.task.monitor)


def _in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
