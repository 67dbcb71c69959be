"""``shiftlab train resume=<run dir>``: continue a run in its own directory.

The run's own overrides (``.hydra/overrides.yaml``) compose the same config again, Hydra is
pointed at the same directory, and training continues from ``checkpoints/last.ckpt``: the
TensorBoard curves, ``train.log`` and ``metrics.json`` go on where they stopped, and no
second run directory appears. Overrides given with ``resume=`` are applied on top (e.g.
``trainer.max_epochs=40`` to train longer).
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from shiftlab.config.overrides import quoted
from shiftlab.errors import ConfigError

log = logging.getLogger("shiftlab.train")

# Overrides of the interrupted run that the resumed run sets anew.
RESET_KEYS = ("resume", "ckpt_path", "hydra.run.dir")


def resume_arguments(run_dir: str, extra: list[str]) -> list[str]:
    """The command line (after ``shiftlab train``) that continues ``run_dir``."""
    folder = Path(run_dir).expanduser()
    overrides_file = folder / ".hydra" / "overrides.yaml"
    if not overrides_file.is_file():
        raise ConfigError(
            f"resume={run_dir}: not a run directory (no .hydra/overrides.yaml there). Pass the "
            "folder of a run, e.g. resume=outputs/train/runs/2026-01-31_12-00-00 (its "
            "checkpoints/ and tensorboard/ are inside)."
        )
    original = yaml.safe_load(overrides_file.read_text()) or []
    replaced = {_key(a) for a in extra} | set(RESET_KEYS)
    kept = [o for o in original if _key(o) not in replaced]
    checkpoint = folder / "checkpoints" / "last.ckpt"
    for leftover in (folder / "checkpoints").glob(".*.partial"):
        leftover.unlink()  # a save that a kill interrupted (the rename never happened)
    args = [*kept, *extra, f"resume={quoted(str(folder))}"]
    args.append(f"hydra.run.dir={quoted(str(folder))}")
    if checkpoint.is_file():
        args.append(f"ckpt_path={quoted(str(checkpoint))}")
    else:
        log.warning("%s has no checkpoints/last.ckpt yet: training starts from epoch 0.", folder)
    return args


def _key(override: str) -> str:
    """``model=x`` → ``model``; ``+a.b=1`` → ``a.b``; ``~callbacks.x`` → ``callbacks.x``."""
    return override.split("=", 1)[0].lstrip("+~")
