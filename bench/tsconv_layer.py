"""TSConv against the 3×3 convolution it replaces: forward + backward time of one layer at
16, 32 and 64 channels on 256×T spectrograms, and one training step of the TSConv U-Net
against the same U-Net with 3×3 convolutions.

    .venv/bin/python bench/tsconv_layer.py                   # 5 rounds, about a minute
    .venv/bin/python bench/tsconv_layer.py --rounds 9 --frames 256 --json tsconv.json

Variants run interleaved within each round (a slow spell hits all of them) and the figure to
read is the ratio of medians measured in this run. Inputs are channels-last, as the tasks
run them on the CPU. The TSConv layer does a third of the 3×3 layer's multiply-adds.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch

from shiftlab.models import TSConvUNet
from shiftlab.models.tsconv import TSConv2d


def timed(step: Callable[[], None], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def layer_step(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        layer.zero_grad(set_to_none=True)
        layer(x).sum().backward()

    return step


def net_step(net: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        net(x).square().mean().backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="steps timed per measurement")
    parser.add_argument("--frames", type=int, default=128, help="T of the 256×T inputs")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    torch.manual_seed(0)
    cl = torch.channels_last

    steps: dict[str, Callable[[], None]] = {}
    for channels in (16, 32, 64):
        x = torch.randn(args.batch, channels, 256, args.frames).contiguous(memory_format=cl)
        x.requires_grad_(True)
        tsconv = TSConv2d(channels, channels).to(memory_format=cl)
        conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(memory_format=cl)
        steps[f"TSConv {channels}"] = layer_step(tsconv, x)
        steps[f"3x3 conv {channels}"] = layer_step(conv, x)
    spec = torch.randn(args.batch, 1, 256, args.frames).contiguous(memory_format=cl)
    for kind in ("tsconv", "conv"):
        net = TSConvUNet(1, 1, freq_bins=256, block_conv=kind).to(memory_format=cl)
        steps[f"U-Net {kind}"] = net_step(net, spec)

    for step in steps.values():  # warm-up
        timed(step, 2)
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            samples[name].append(timed(step, args.repeats))

    median = {name: statistics.median(values) for name, values in samples.items()}
    rows = []
    for channels in (16, 32, 64):
        ts, cv = median[f"TSConv {channels}"], median[f"3x3 conv {channels}"]
        rows.append((f"layer, {channels} channels", ts, cv, ts / cv))
    ts, cv = median["U-Net tsconv"], median["U-Net conv"]
    rows.append(("U-Net training step", ts, cv, ts / cv))

    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, input {args.batch}×C×256×{args.frames}, "
          f"{args.rounds} rounds × {args.repeats} steps, medians")  # fmt: skip
    print("| case | TSConv (ms) | 3×3 conv (ms) | TSConv / 3×3 |")
    print("|---|---|---|---|")
    for name, ts, cv, ratio in rows:
        print(f"| {name} | {ts * 1e3:.1f} | {cv * 1e3:.1f} | {ratio:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "samples": samples}, f, indent=2)


if __name__ == "__main__":
    main()
