"""A 4-job sweep run one job after another vs. two at a time with the joblib launcher.

    .venv/bin/python bench/sweep_parallel.py            # 2 rounds, ~4 minutes on 2 cores
    .venv/bin/python bench/sweep_parallel.py --rounds 3 --epochs 5

Each round runs every variant once, in turn, so a slow spell on a noisy machine hits all of
them; the figure to read is the ratio of medians measured in this one run:

- ``sequential``: Hydra's basic launcher, torch's default threads (all cores), one job at a time.
- ``joblib 2``: ``hydra/launcher=joblib hydra.launcher.n_jobs=2``; shiftlab gives each job
  ``cores // 2`` threads.
- ``joblib 2, all threads``: the same with ``threads=<cores>``: what happens without the
  sharing (jobs fight for the cores).

Wall time is the whole command (start-up, data, fit, test), as a user waits for it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import SHIFTLAB, machine, ratio_figure


def sweep_args(epochs: int) -> list[str]:
    return [
        "train",
        "-m",
        "optimizer.lr=1e-3,2e-3,3e-3,5e-3",  # 4 jobs
        "data.num_train=96",
        "data.num_val=16",
        "data.num_test=16",
        f"trainer.max_epochs={epochs}",
        "trainer.enable_progress_bar=false",
    ]


def variants(cores: int) -> dict[str, list[str]]:
    joblib = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    return {
        "sequential": [],
        "joblib 2": joblib,
        "joblib 2, all threads": [*joblib, f"threads={cores}"],
    }


def run_once(extra: list[str], epochs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = subprocess.run(
            [str(SHIFTLAB), *sweep_args(epochs), *extra],
            cwd=tmp,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"sweep failed ({' '.join(extra)}):\n{proc.stderr[-3000:]}")
        report = next(Path(tmp).glob("outputs/train/multiruns/*/report.csv")).read_text()
        assert report.count(",completed,") == 4, report
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    times: dict[str, list[float]] = {name: [] for name in variants(cores)}
    for round_number in range(args.rounds):
        for name, extra in variants(cores).items():
            seconds = run_once(extra, args.epochs)
            times[name].append(seconds)
            print(f"round {round_number + 1}: {name:<22} {seconds:6.1f} s", flush=True)
    base = statistics.median(times["sequential"])
    print(machine())
    print(f"4-job sweep, {args.epochs} epochs per job, {args.rounds} interleaved rounds")
    print("| variant | median wall time (s) | speed-up vs sequential, median (range) |")
    print("|---|---|---|")
    results = {}
    for name, values in times.items():
        median = statistics.median(values)
        results[name] = {"median_s": median, "runs_s": values, "speedup": base / median}
        print(f"| {name} | {median:.1f} | {ratio_figure(times['sequential'], values)}× |")
    if args.json:
        args.json.write_text(
            json.dumps({"cores": cores, "epochs": args.epochs, **results}, indent=2)
        )


if __name__ == "__main__":
    main()
