"""``shiftlab train``: compose ``conf/train.yaml`` with the overrides, fit, then test.

Composing, printing (``--cfg``) and ``--help`` import neither torch nor Lightning; the
training body is imported only when a run starts.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import hydra
from omegaconf import DictConfig

from shiftlab.config.location import config_dir
from shiftlab.config.resolvers import register_resolvers
from shiftlab.errors import ShiftlabError
from shiftlab.liveness import marked_running
from shiftlab.run.launch import check_config
from shiftlab.run.ranks import is_rank_zero

log = logging.getLogger("shiftlab.train")
register_resolvers()


def main() -> None:
    """Expand ``resume=<run dir>`` into that run's command line, then run the Hydra app."""
    args = sys.argv[1:]
    resume = [a.split("=", 1)[1] for a in args if a.startswith("resume=")]
    if resume and resume[-1] not in ("", "null") and not HELP_FLAGS.intersection(args):
        from shiftlab.run.resume import resume_arguments

        rest = [a for a in args if not a.startswith("resume=")]
        sys.argv = [sys.argv[0], *resume_arguments(resume[-1].strip("'\""), rest)]
    _app()


HELP_FLAGS = {"--help", "-h", "--hydra-help"}


@hydra.main(config_path=str(config_dir()), config_name="train", version_base="1.3")
def _app(cfg: DictConfig) -> float | None:
    """Train; return the monitored metric (what a sweep optimises).

    A failed run leaves ``metrics.json`` with ``status: failed`` and its error. On its own,
    a user's mistake (a ShiftlabError) ends the command with one paragraph and exit code 1;
    in a sweep the error goes back to the sweeper, which records it and runs the next job.
    While it runs, the run directory holds a marker that says so (``shiftlab runs``).
    """
    started = time.perf_counter()
    marker = marked_running(Path(cfg.paths.output_dir)) if is_rank_zero() else nullcontext()
    with marker:
        return _train_or_record_failure(cfg, started)


def _train_or_record_failure(cfg: DictConfig, started: float) -> float | None:
    from shiftlab.run.summary import write_failure

    try:
        check_config(cfg)  # before torch is imported: a wrong value costs a second, not a run
        from shiftlab.run.training import train

        metrics = train(cfg)
    except Exception as err:
        if is_rank_zero():
            write_failure(Path(cfg.paths.output_dir), err, time.perf_counter() - started)
        if _in_sweep():
            expected = isinstance(err, ShiftlabError)
            log.error("This job failed: %s", err, exc_info=None if expected else err)
            raise
        if isinstance(err, ShiftlabError):
            log.error("%s", err)  # one paragraph (console and log file), no traceback
            raise SystemExit(1) from None
        raise
    from shiftlab.run.summary import monitored_value

    return monitored_value(metrics, cfg.task.monitor)


def _in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
