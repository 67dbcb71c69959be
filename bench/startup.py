"""Start-up: wall time of ``shiftlab train --help`` and ``shiftlab train --cfg job`` (paths
that must not import torch), and the time from launch to the end of the first training step
of ``shiftlab train`` against a plain PyTorch script doing the same (bench/first_step_plain.py).

    .venv/bin/python bench/startup.py                 # 5 rounds, ~2 minutes on 2 cores
    .venv/bin/python bench/startup.py --rounds 9 --json startup.json

Every figure is a fresh process, timed from just before it is started; rounds are interleaved.
``python -c pass`` is timed alongside as the floor of any command, and the smallest Hydra app
(bench/minimal_app: one file, one value) printing its config as the floor of any Hydra app.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import (
    REPO,
    SHIFTLAB,
    interleaved,
    machine,
    median_spread,
    ratio_figure,
    run_quiet,
    write_json,
)

BENCH = Path(__file__).resolve().parent


def wall(cmd: list[str]) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        run_quiet(cmd, cwd=REPO)
        return time.perf_counter() - started

    return run


def until_first_step(cmd: list[str], out_arg: Callable[[Path], list[str]]) -> Callable[[], float]:
    """Seconds from launch until the process writes the end of its first training step."""

    def run() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp, "first_step")
            env = {**os.environ, "PYTHONPATH": str(BENCH)}
            started = time.time()
            run_quiet([*cmd, *out_arg(out)], cwd=tmp, env=env)
            return float(out.read_text()) - started

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    shiftlab = str(SHIFTLAB)
    variants = {
        "python -c pass": wall([sys.executable, "-c", "pass"]),
        "minimal Hydra app --cfg job": wall(
            [sys.executable, str(BENCH / "minimal_app" / "app.py"), "--cfg", "job"]
        ),
        "shiftlab train --help": wall([shiftlab, "train", "--help"]),
        "shiftlab train --cfg job": wall([shiftlab, "train", "--cfg", "job"]),
        "shiftlab train, first step": until_first_step(
            [shiftlab, "train", "+callbacks.first_step._target_=step_timer.FirstStepExit"],
            lambda out: [f"+callbacks.first_step.path={out}"],
        ),
        "plain PyTorch script, first step": until_first_step(
            [sys.executable, str(BENCH / "first_step_plain.py")], lambda out: [str(out)]
        ),
    }
    samples = interleaved(variants, args.rounds)

    print(machine())
    print(f"{args.rounds} interleaved rounds, each a fresh process")
    print("| command | median (s) | range (s) | target |")
    print("|---|---|---|---|")
    targets = {"shiftlab train --help": "≤ 0.35 s", "shiftlab train --cfg job": "≤ 0.35 s"}
    for name, values in samples.items():
        mid, low, high = median_spread(values)
        print(f"| `{name}` | {mid:.2f} | {low:.2f}–{high:.2f} | {targets.get(name, '')} |")
    ours = samples["shiftlab train, first step"]
    plain = samples["plain PyTorch script, first step"]
    print(f"| launch to first step, shiftlab / plain | {ratio_figure(ours, plain)} | | ≤ 1.15 |")
    write_json(args.json, {"machine": machine(), "args": vars(args), "samples": samples})


if __name__ == "__main__":
    main()
