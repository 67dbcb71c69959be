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
import statistics
import time
from collections.abc import Callable

import torch
from _common import machine, ratio_figure

from shiftlab.models import TSConvUNet
from shiftlab.models.tsconv import TSConv2d, time_shift


def timed(step: Callable[[], None], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


class Shift(torch.nn.Module):
    """TSConv's shift step alone (no parameters), timed like a layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return time_shift(x)


def layer_step(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        layer.zero_grad(set_to_none=True)
        x.grad = None
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
        steps[f"shift {channels}"] = layer_step(Shift(), x)  # the two halves of TSConv
        steps[f"(3,1) conv {channels}"] = layer_step(tsconv.conv, x)
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
    ratio = {  # per round: both variants ran within the same round
        name: ratio_figure(samples[name], samples[name.replace("TSConv", "3x3 conv")])
        for name in samples
        if name.startswith("TSConv")
    }
    print(machine())
    print(f"input {args.batch}×C×256×{args.frames} channels-last, forward + backward "
          "(input gradient included), "
          f"{args.rounds} interleaved rounds × {args.repeats} steps")  # fmt: skip
    print("| case | TSConv (ms) | of which shift (ms) | of which (3,1) conv (ms) | 3×3 conv (ms) "
          "| TSConv / 3×3, median (range) | (3,1) conv / 3×3 | target |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for c in (16, 32, 64):
        ts, sh, c31, cv = (
            median[f"{k} {c}"] for k in ("TSConv", "shift", "(3,1) conv", "3x3 conv")
        )
        print(f"| layer, {c} channels | {ts * 1e3:.1f} | {sh * 1e3:.1f} | {c31 * 1e3:.1f} | "
              f"{cv * 1e3:.1f} | {ratio[f'TSConv {c}']} | {c31 / cv:.2f} | ≤ 0.5 |")  # fmt: skip
    ts, cv = median["U-Net tsconv"], median["U-Net conv"]
    print(
        f"| U-Net training step | {ts * 1e3:.1f} | | | {cv * 1e3:.1f} | "
        f"{ratio_figure(samples['U-Net tsconv'], samples['U-Net conv'])} | | ≤ 0.5 |"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "samples": samples}, f, indent=2)


if __name__ == "__main__":
    main()
