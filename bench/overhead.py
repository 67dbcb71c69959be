"""Framework overhead: training steps per second through shiftlab's training entry point
against a hand-written PyTorch loop with the same network, data loader, loss, optimizer
and batch size, in one process.

    .venv/bin/python bench/overhead.py                   # 5 rounds, ~9 minutes on 2 cores
    .venv/bin/python bench/overhead.py --cases small_cnn --rounds 5 --json overhead.json

Cases: an SMP U-Net (resnet18 encoder, batches of 8×1×128×128), the TSConv U-Net on
256×T spectrograms (the default experiment's data, batches of 16), CRePE-tiny on waveform
frames (the pitch experiment: 8 synthetic notes a step, 16 frames of each), and a small CNN on
28×28 Fashion-MNIST batches of 256 (needs ``apt-get install dataset-fashion-mnist``),
where per-step overhead shows most.

The shiftlab side is ``shiftlab.run.training.train`` (the body of ``shiftlab train``) on the
config ``shiftlab train`` composes, with logging (TensorBoard, every 10 steps), checkpointing
(best and last), the progress bar and every default callback on. The hand-written side
(bench/hand_loop.py) builds the same network, training loader, loss and optimizer afresh
from that run's resolved config and runs ``zero_grad, forward, loss, backward, step``.

The figure is measured with the steps paired in time: one more callback runs a hand-written
step after each shiftlab step and times both (step_timer.PairedHandWritten), over the last
of ``--epochs`` epochs of each round; a slow spell of this noisy machine then hits both
alike. The table gives the ratio of the two mean step times per round, median and range
over the rounds. ``--independent`` also times separate runs of each variant, interleaved
by round (noisier: seconds apart rather than milliseconds).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    best_ratio,
    compose_train,
    interleaved,
    machine,
    median_spread,
    ratio_figure,
    write_json,
)
from hand_loop import HandWrittenLoop
from step_timer import seconds_per_step

from shiftlab.run.training import train

CASES: dict[str, dict] = {
    "smp_unet": {
        "title": "SMP U-Net (resnet18), 8×1×128×128",
        "target": 1.01,
        "overrides": [
            "task=segmentation", "model=smp_unet", "data=shapes_grey", "data.size=128",
            "data.batch_size=8", "data.num_train=96", "data.num_val=8", "data.num_test=8",
        ],
    },
    "tsconv_unet": {
        "title": "TSConv U-Net, 16×1×256×T (T 48–160)",
        "target": 1.01,
        "overrides": ["data.num_train=256", "data.num_val=16", "data.num_test=16"],
    },
    "crepe_tiny": {
        "title": "CRePE-tiny, 8 clips × 16 frames × 1024 samples (pitch)",
        "target": 1.02,
        "overrides": [
            "experiment=pitch_crepe", "data.num_train=256", "data.num_val=8", "data.num_test=8",
        ],
    },
    "smp_unet_gpu": {  # bench/gpu_check.sh: bf16 autocast, channels-last, one GPU
        "title": "SMP U-Net (resnet18), 16×3×512×512, GPU bf16-mixed",
        "target": 1.01,
        "gpu": True,
        "overrides": [
            "task=segmentation", "model=smp_unet", "data=shapes_synth", "data.size=512",
            "data.batch_size=16", "data.num_train=320", "data.num_val=16", "data.num_test=16",
            "trainer=gpu",
        ],
    },
    "small_cnn": {
        "title": "small CNN (fashion_cnn), 256×1×28×28",
        "target": 1.05,
        "overrides": [
            "experiment=fashion_mnist_cnn", "data.batch_size=256",
            "+trainer.limit_train_batches=40", "+trainer.limit_val_batches=2",
        ],
    },
}  # fmt: skip

COMMON = ["test=false", "seed=0"]


def shiftlab_run(case: dict, epochs: int) -> Callable[[], float]:
    def run() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            steps = Path(tmp, "steps.json")
            cfg = compose_train([
                *COMMON, *case["overrides"], f"trainer.max_epochs={epochs}",
                f"paths.output_dir={tmp}/run",
                "+callbacks.step_timer._target_=step_timer.StepTimer",
                f"+callbacks.step_timer.path={steps}",
            ])  # fmt: skip
            train(cfg)
            return seconds_per_step(json.loads(steps.read_text())[-1])

    return run


def hand_written_run(
    case: dict, epochs: int, profile: cProfile.Profile | None = None, count: bool = False
) -> Callable[[], Any]:
    """The loop a user would write by hand around the same pieces. ``profile`` profiles
    the timed (last) epoch's steps; ``count`` returns ``(seconds per step, steps)``."""

    def run() -> Any:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = compose_train([*COMMON, *case["overrides"], f"paths.output_dir={tmp}/run"])
            loop = HandWrittenLoop(cfg)
            for epoch in range(epochs - 1):
                loop.timed_epoch(epoch)
            times = loop.timed_epoch(epochs - 1, profile.enable if profile else None)
            if profile is not None:
                profile.disable()
            seconds = seconds_per_step(times)
            return (seconds, len(times) - 1) if count else seconds

    return run


def paired_run(case: dict, epochs: int) -> dict[str, float]:
    """One shiftlab run with a hand-written step after each of its steps (step_timer.py's
    PairedHandWritten): seconds per step of each, over the same stretch of time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "paired.json")
        cfg = compose_train([
            *COMMON, *case["overrides"], f"trainer.max_epochs={epochs}",
            f"paths.output_dir={tmp}/run",
            "+callbacks.paired._target_=step_timer.PairedHandWritten",
            f"+callbacks.paired.path={out}", f"+callbacks.paired.epoch={epochs - 1}",
        ])  # fmt: skip
        train(cfg)
        samples = json.loads(out.read_text())
        return {k: sum(v) / len(v) for k, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", nargs="+", choices=list(CASES),
        default=[name for name, case in CASES.items() if not case.get("gpu")],
        help="the CPU cases by default; smp_unet_gpu needs a CUDA GPU (bench/gpu_check.sh)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2, help="per round; the last is timed")
    parser.add_argument(
        "--independent", action="store_true",
        help="also time separate runs of each variant, interleaved by round",
    )  # fmt: skip
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    if "small_cnn" in args.cases and not Path("/usr/share/datasets/fashion-mnist").exists():
        sys.exit("small_cnn needs Fashion-MNIST: apt-get install dataset-fashion-mnist "
                 "(or leave it out with --cases smp_unet tsconv_unet).")  # fmt: skip

    results = {}
    for name in args.cases:
        case = CASES[name]
        print(f"{case['title']}:", flush=True)
        paired: dict[str, list[float]] = {"shiftlab": [], "hand-written": []}
        for number in range(args.rounds):
            seconds = paired_run(case, args.epochs)
            paired["shiftlab"].append(seconds["framework"])
            paired["hand-written"].append(seconds["hand"])
            print(f"  round {number + 1}/{args.rounds} paired: {seconds}", flush=True)
        results[name] = {"title": case["title"], "target": case["target"], "paired": paired}
        if args.independent:
            results[name]["independent"] = interleaved(
                {"shiftlab": shiftlab_run(case, args.epochs),
                 "hand-written": hand_written_run(case, args.epochs)},
                args.rounds,
            )  # fmt: skip

    print(machine())
    print(f"steps paired in time (a hand-written step after each shiftlab step), "
          f"{args.rounds} rounds × {args.epochs} epochs, last epoch timed")  # fmt: skip
    print("| case | shiftlab (ms/step) | hand-written (ms/step) | shiftlab / hand-written, "
          "median of rounds (range) | target |")  # fmt: skip
    print("|---|---|---|---|---|")
    for result in results.values():
        ours, hand = result["paired"]["shiftlab"], result["paired"]["hand-written"]
        print(f"| {result['title']} | {median_spread(ours)[0] * 1e3:.1f} | "
              f"{median_spread(hand)[0] * 1e3:.1f} | {ratio_figure(ours, hand)} | "
              f"≤ {result['target']:.2f} |")  # fmt: skip
    if args.independent:
        print(f"\nseparate runs of each variant, {args.rounds} interleaved rounds")
        print("| case | shiftlab (ms/step) | hand-written (ms/step) | shiftlab / hand-written, "
              "median of rounds (range) | fastest / fastest |")  # fmt: skip
        print("|---|---|---|---|---|")
        for result in results.values():
            ours, hand = (result["independent"][k] for k in ("shiftlab", "hand-written"))
            print(f"| {result['title']} | {median_spread(ours)[0] * 1e3:.1f} | "
                  f"{median_spread(hand)[0] * 1e3:.1f} | {ratio_figure(ours, hand)} | "
                  f"{best_ratio(ours, hand):.3f} |")  # fmt: skip
    write_json(args.json, {"machine": machine(), "args": vars(args), "results": results})


if __name__ == "__main__":
    main()
