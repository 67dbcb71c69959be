"""An Optuna search of the default experiment with and without pruning: the same trials (one
seed, the same sampler), one after the other in this run; wall time, pruned trials and the
best value found.

    .venv/bin/python bench/search_pruning.py                  # 10 trials each, ~6 minutes
    .venv/bin/python bench/search_pruning.py --trials 20 --epochs 20

The search is ``shiftlab train hparams_search=optuna`` (TPE over the learning rate and weight
decay) on the default experiment's data, shortened (``--train`` spectrograms, ``--epochs``
epochs); with pruning, ``hydra.sweeper.pruner`` is the median pruner after two trials and one
epoch of warm-up. Both searches use the same seed, so their first trials sample the same
values; the pruned search then learns from fewer finished epochs.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, write_json

PRUNER = "hydra.sweeper.pruner={name:median,n_startup_trials:2,n_warmup_steps:1}"


def search(folder: Path, trials: int, epochs: int, train: int, pruner: str | None) -> dict:
    sweep = folder / "sweep"
    command = [
        str(Path(sys.executable).with_name("shiftlab")), "train", "hparams_search=optuna",
        f"hydra.sweeper.n_trials={trials}", f"trainer.max_epochs={epochs}",
        f"data.num_train={train}", "trainer.enable_progress_bar=false",
        f"hydra.sweep.dir={sweep}", *([pruner] if pruner else []),
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, cwd=folder, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    rows = list(csv.DictReader((sweep / "report.csv").open()))
    done = [float(r["objective"]) for r in rows if r["status"] == "completed"]
    return {
        "seconds": seconds,
        "pruned": sum(r["status"] == "pruned" for r in rows),
        "epochs": sum(int(r["epochs"] or 0) for r in rows),
        "best": min(done) if done else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train", type=int, default=128, help="training spectrograms")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    results = {}
    for name, pruner in (("no pruning", None), ("median pruner", PRUNER)):
        with tempfile.TemporaryDirectory() as tmp:
            results[name] = search(Path(tmp), args.trials, args.epochs, args.train, pruner)
        print(f"  {name}: {results[name]}", flush=True)
    print(machine())
    print(f"{args.trials} trials of {args.epochs} epochs on {args.train} training spectrograms, "
          "same seed")  # fmt: skip
    print("| search | wall time (s) | pruned trials | epochs trained | best val/lsd |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['seconds']:.0f} | {r['pruned']} | {r['epochs']} | "
              f"{r['best']:.3f} |")  # fmt: skip
    ratio = results["median pruner"]["seconds"] / results["no pruning"]["seconds"]
    print(f"\nwith pruning / without: {ratio:.2f} of the wall time")
    write_json(args.json, {"machine": machine(), "args": vars(args), "results": results})


if __name__ == "__main__":
    main()
