"""``shiftlab runs`` on folders of 100 and 1,000 runs: seconds per listing (process start-up
included, as a user waits for it) and peak memory, beside ``shiftlab --version`` (the
start-up alone), in interleaved rounds.

    .venv/bin/python bench/runs.py            # ~1 minute
    .venv/bin/python bench/runs.py --rounds 9 --json runs.json

The folders hold the files a real run leaves (``.hydra/config.yaml`` as composed for the
default experiment, ``.hydra/overrides.yaml``, ``metrics.json``): a quarter are sweep jobs,
one in ten failed, one in twenty has no result yet. Target: under 1 s for 100 runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import yaml
from _common import SHIFTLAB, interleaved, machine, median_spread, write_json


def make_runs(root: Path, count: int) -> None:
    """``count`` run directories under ``root`` (a log directory)."""
    config = subprocess.run([str(SHIFTLAB), "train", "--cfg", "job"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    for number in range(count):
        stamp = f"2026-11-{1 + number // 100:02d}_{number // 60 % 24:02d}-{number % 60:02d}-00"
        if number % 4 == 0:
            sweep = f"2026-11-30_{number // 32 % 24:02d}-{number // 32 // 24:02d}-00"
            directory = root / "train" / "multiruns" / sweep / str(number // 4 % 8)
        else:
            directory = root / f"task{number % 3}" / "runs" / stamp
        hydra = directory / ".hydra"
        hydra.mkdir(parents=True, exist_ok=True)
        (hydra / "config.yaml").write_text(config)
        lr = f"optimizer.lr={1e-3 * (1 + number % 7):g}"
        (hydra / "overrides.yaml").write_text(yaml.safe_dump([lr, "model=conv_unet"]))
        if number % 20 == 0:
            continue  # no result yet
        if number % 10 == 0:
            summary = {"status": "failed", "error": "ConfigError: data.root=/x does not exist"}
        else:
            summary = {"status": "completed", "monitor": "val/lsd", "monitor_mode": "min",
                       "epochs": 20, "metrics": {"val/lsd": 12.0 + number % 5,
                                                 "val/lsd_best": 11.5 + number % 5}}  # fmt: skip
        (directory / "metrics.json").write_text(json.dumps(summary))


def listing_seconds(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(SHIFTLAB), *args], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folders = {}
        for count in (100, 1000):
            folders[count] = Path(tmp) / f"runs{count}"
            make_runs(folders[count], count)
        samples = interleaved({
            "shiftlab --version": lambda: listing_seconds(["--version"]),
            "shiftlab runs (100 runs)": lambda: listing_seconds(["runs", str(folders[100])]),
            "shiftlab runs (1,000 runs)": lambda: listing_seconds(
                ["runs", str(folders[1000]), "limit=null"]),
        }, args.rounds)  # fmt: skip
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(machine())
    print("| command | seconds, median (range) |\n|---|---|")
    for name, values in samples.items():
        mid, low, high = median_spread(values)
        print(f"| {name} | {mid:.3f} ({low:.3f}–{high:.3f}) |")
    print(f"\npeak memory of any listing: {peak_mib:.0f} MiB (target: 100 runs under 1 s)")
    write_json(args.json, {"machine": machine(), "samples": samples, "peak_mib": peak_mib})


if __name__ == "__main__":
    main()
