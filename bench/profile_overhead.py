"""Where the framework's time per step goes beyond the hand-written loop's: cProfile of the
timed epoch's training steps of a bench/overhead.py case, for each variant, summed by package.

    .venv/bin/python bench/profile_overhead.py tsconv_unet

Prints, per variant, the seconds per step spent in each package's own Python code and in
C (torch operators and other built-ins), over the same steps bench/overhead.py times (the
second epoch, first step's start to last step's end): what the loop, logging, progress
bar and callbacks of the framework add, next to the operators both variants run.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import overhead
from _common import compose_train

PACKAGES = (
    "lightning", "torchmetrics", "tensorboard", "tqdm", "shiftlab", "albumentations", "numpy",
    "torch/optim", "torch/nn", "torch/utils/data", "torch/autograd", "torch/",
)  # fmt: skip


def by_package(stats: pstats.Stats) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, name), (_, _, tottime, _, _) in stats.stats.items():
        if filename == "~":  # built-ins: torch operators and other C functions
            key = "(C) backward" if "run_backward" in name else "(C) operators, built-ins"
            totals[key] += tottime
            continue
        totals[next((p for p in PACKAGES if f"/{p}" in filename), "(other Python)")] += tottime
    return dict(totals)


def profiled_shiftlab(case: dict, epochs: int) -> tuple[float, int, pstats.Stats]:
    with tempfile.TemporaryDirectory() as tmp:
        profile, steps = Path(tmp, "steps.prof"), Path(tmp, "steps.json")
        cfg = compose_train([
            *overhead.COMMON, *case["overrides"], f"trainer.max_epochs={epochs}",
            f"paths.output_dir={tmp}/run",
            "+callbacks.step_timer._target_=step_timer.StepTimer",
            f"+callbacks.step_timer.path={steps}",
            "+callbacks.profiler._target_=step_timer.EpochProfiler",
            f"+callbacks.profiler.path={profile}", f"+callbacks.profiler.epoch={epochs - 1}",
        ])  # fmt: skip
        overhead.train(cfg)
        times = json.loads(steps.read_text())[-1]
        return overhead.seconds_per_step(times), len(times) - 1, pstats.Stats(str(profile))


def profiled_hand_written(case: dict, epochs: int) -> tuple[float, int, pstats.Stats]:
    profile = cProfile.Profile()
    seconds, count = overhead.hand_written_run(case, epochs, profile=profile, count=True)()
    return seconds, count, pstats.Stats(profile)


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "tsconv_unet"
    case, epochs = overhead.CASES[name], 2
    overhead.hand_written_run(case, 1)()  # warm-up: imports, first allocations
    rows = {
        "shiftlab": profiled_shiftlab(case, epochs),
        "hand-written": profiled_hand_written(case, epochs),
    }
    per_step = {v: {k: t * 1e3 / count for k, t in by_package(stats).items()}
                for v, (_, count, stats) in rows.items()}  # fmt: skip
    ours, hand = per_step["shiftlab"], per_step["hand-written"]
    print(f"{case['title']}: own time per step (ms) by package, timed epoch under cProfile")
    print("| package | shiftlab | hand-written | difference |")
    print("|---|---|---|---|")
    for key in sorted({*ours, *hand}, key=lambda k: -ours.get(k, 0.0)):
        a, b = ours.get(key, 0.0), hand.get(key, 0.0)
        print(f"| {key} | {a:.1f} | {b:.1f} | {a - b:+.1f} |")
    a, b = (rows[v][0] * 1e3 for v in rows)
    print(f"| **time per step, profiled** | {a:.1f} | {b:.1f} | {a - b:+.1f} |")
    _, count, stats = rows["shiftlab"]
    print("\nshiftlab's heaviest framework functions")
    print("| own time per step (ms) | calls per step | function |")
    print("|---|---|---|")
    libraries = ("/lightning/", "/tqdm/", "/torchmetrics/")
    framework = [(k, v) for k, v in stats.stats.items() if any(p in k[0] for p in libraries)]
    for (filename, line, function), (_, calls, tottime, _, _) in sorted(
        framework, key=lambda item: -item[1][2]
    )[:12]:
        where = filename.split("site-packages/")[-1]
        print(
            f"| {tottime * 1e3 / count:.2f} | {calls / count:.1f} | `{where}:{line} {function}` |"
        )


if __name__ == "__main__":
    main()
