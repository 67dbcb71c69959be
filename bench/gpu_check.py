"""The GPU figures of the performance work, in one run of under 5 minutes on one machine.

    bash bench/gpu_check.sh          # the wrapper: finds the interpreter, caps the time

1. The GPU's measured matmul peak: bf16 8192×8192 matrix products, TFLOP/s.
2. Framework overhead on the GPU: the SMP U-Net (resnet18) on 16×3×512×512 images, bf16
   autocast, channels-last, shiftlab's training step against the hand-written loop with the
   same autocast (steps paired in time, as bench/overhead.py does on the CPU), and the
   share of the matmul peak its training step reaches (FLOPs counted by torch's
   FlopCounterMode over one forward and backward).
3. TSConv on CUDA: bench/tsconv_layer.py --device cuda (the layer against the 3×3 and
   (3, 1) convolutions, and the U-Net step).
4. ``shiftlab train trainer=ddp`` on every GPU for 20 steps: it must finish and write its
   metrics.

Every part prints as it ends; a part that fails says why and the next one still runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import REPO, SHIFTLAB, compose_train, machine, ratio_figure


def matmul_peak(size: int = 8192, repeats: int = 20) -> float:
    """Measured bf16 matmul throughput in TFLOP/s (the best of three timings)."""
    a = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(3):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * size**3 / best / 1e12


def step_flops(overrides: list[str]) -> float:
    """FLOPs of one training step (forward + backward) of the case's network and batch."""
    from torch.utils.flop_counter import FlopCounterMode

    from shiftlab.run.building import build, task_from_config

    cfg = compose_train(overrides)
    data = build(cfg.data, "data")
    data.setup("fit")
    facts = data.network_facts() if hasattr(data, "network_facts") else {}
    net = task_from_config(cfg, facts).net.cuda().to(memory_format=torch.channels_last)
    image = next(iter(data.train_dataloader()))["image"].cuda()
    batch = data.on_after_batch_transfer({"image": image}, 0)["image"]  # uint8 → normalised
    batch = batch.contiguous(memory_format=torch.channels_last)
    with FlopCounterMode(display=False) as counter, torch.autocast("cuda", torch.bfloat16):
        net(batch).float().mean().backward()
    return float(counter.get_total_flops())


def overhead_on_gpu(peak_tflops: float, rounds: int) -> dict:
    from overhead import CASES, paired_run

    case = CASES["smp_unet_gpu"]
    framework, hand = [], []
    for number in range(rounds):
        seconds = paired_run(case, epochs=2)
        framework.append(seconds["framework"])
        hand.append(seconds["hand"])
        print(f"  round {number + 1}/{rounds}: {seconds}", flush=True)
    flops = step_flops(["test=false", "seed=0", *case["overrides"]])
    step = sorted(framework)[len(framework) // 2]
    share = flops / step / (peak_tflops * 1e12)
    print(f"| {case['title']} | {step * 1e3:.1f} ms | {sorted(hand)[len(hand) // 2] * 1e3:.1f} "
          f"ms | {ratio_figure(framework, hand)} | ≤ {case['target']} |")  # fmt: skip
    print(f"step FLOPs {flops / 1e12:.2f} T; share of the measured matmul peak: {share:.1%}")
    return {"shiftlab": framework, "hand": hand, "step_flops": flops, "peak_share": share}


def tsconv_on_gpu() -> str:
    """bench/tsconv_layer.py on CUDA (its own process: a clean GPU memory pool)."""
    command = [sys.executable, str(REPO / "bench" / "tsconv_layer.py"), "--device", "cuda",
               "--rounds", "3", "--no-compile"]  # fmt: skip
    subprocess.run(command, check=True, timeout=90)
    return "printed above"


def ddp_run(steps: int = 20) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = subprocess.run(
            [str(SHIFTLAB), "train", "trainer=ddp", "trainer.devices=-1",
             f"+trainer.max_steps={steps}", "trainer.max_epochs=100", "test=false",
             "trainer.enable_progress_bar=false", f"paths.output_dir={tmp}/run"],
            cwd=tmp, capture_output=True, text=True, timeout=150,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        metrics = Path(tmp, "run", "metrics.json")
        summary = json.loads(metrics.read_text()) if metrics.exists() else {}
    ok = proc.returncode == 0 and summary.get("global_step") == steps
    print(f"trainer=ddp on {torch.cuda.device_count()} GPU(s), {steps} steps: "
          f"{'completed' if ok else 'FAILED'} in {seconds:.0f} s "
          f"(global_step {summary.get('global_step')})")  # fmt: skip
    if not ok:
        print((proc.stdout + proc.stderr)[-3000:])
    return {"ok": ok, "seconds": seconds, "gpus": torch.cuda.device_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="overhead rounds")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/gpu_check.sh needs a CUDA GPU and found none (torch.cuda.is_available() "
                 "is False); the CPU figures come from bench/run_all.py.")  # fmt: skip
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    print(machine(), flush=True)
    results: dict = {"machine": machine()}
    parts = {
        "peak": lambda: matmul_peak(),
        "overhead": lambda: overhead_on_gpu(results["peak"], args.rounds),
        "tsconv": tsconv_on_gpu,
        "ddp": ddp_run,
    }
    for name, part in parts.items():
        print(f"\n## {name}", flush=True)
        try:
            results[name] = part()
            if name == "peak":
                print(f"bf16 matmul 8192×8192: {results['peak']:.0f} TFLOP/s measured")
        except Exception as error:  # one broken part must not hide the others' figures
            results[name] = {"error": f"{type(error).__name__}: {error}"}
            print(f"{name} failed: {type(error).__name__}: {error}", flush=True)
            if name == "peak":
                results["peak"] = float("nan")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
