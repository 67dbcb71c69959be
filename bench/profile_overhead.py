"""Where the framework's time per step goes beyond the hand-written loop's: cProfile of one
run of each variant of a bench/overhead.py case, with the Python time summed by package.

    .venv/bin/python bench/profile_overhead.py tsconv_unet

Prints, per variant, the seconds spent in the Python code of each package (their own time,
not counting the torch operators they call) and the run's step count, so the per-step cost of
Lightning's loop, logging and callbacks can be read next to the time of the torch operators.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
from collections import defaultdict

import overhead

PACKAGES = ("lightning", "torchmetrics", "tensorboard", "tqdm", "shiftlab", "albumentations",
            "torch/optim", "torch/nn", "torch/utils/data", "torch/")  # fmt: skip


def by_package(profile: cProfile.Profile) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in pstats.Stats(profile).stats.items():
        if filename == "~":  # built-ins: torch operators and C functions
            totals["(C: torch operators, builtins)"] += tottime
            continue
        package = next((p for p in PACKAGES if f"/{p}" in filename), "(other Python)")
        totals[package] += tottime
    return dict(totals)


def main() -> None:
    case = overhead.CASES[sys.argv[1] if len(sys.argv) > 1 else "tsconv_unet"]
    variants = {"shiftlab": overhead.shiftlab_run(case, 2),
                "hand-written": overhead.hand_written_run(case, 2)}  # fmt: skip
    for run in variants.values():  # warm-up: imports, first allocations
        run()
    rows = {}
    for name, run in variants.items():
        profile = cProfile.Profile()
        profile.enable()
        per_step = run()
        profile.disable()
        rows[name] = (per_step, by_package(profile))
    print(f"{case['title']}: seconds of own time per package, whole run (2 epochs)")
    names = sorted({k for _, totals in rows.values() for k in totals})
    print("| package | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for key in names:
        cells = " | ".join(f"{totals.get(key, 0.0):.2f}" for _, totals in rows.values())
        print(f"| {key} | {cells} |")
    print(
        "| time per step (s), profiled | " + " | ".join(f"{s:.3f}" for s, _ in rows.values()) + " |"
    )


if __name__ == "__main__":
    main()
