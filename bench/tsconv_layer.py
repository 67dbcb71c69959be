"""TSConv against the 3×3 convolution it replaces: forward + backward time of one layer at
16, 32 and 64 channels on 256×T spectrograms, and one training step of the TSConv U-Net
against the same U-Net with 3×3 convolutions.

    .venv/bin/python bench/tsconv_layer.py                   # 5 rounds, a few minutes
    .venv/bin/python bench/tsconv_layer.py --rounds 9 --frames 256 --json tsconv.json
    .venv/bin/python bench/tsconv_layer.py --no-compile      # without the torch.compile path

Each TSConv layer runs on every path: as a run chooses (``auto``), the fused operator (the
shift read inside the (3, 1) convolution's own loops, ``shiftlab.models.fused_tsconv``;
``SHIFTLAB_FUSED_TSCONV=1`` forces it where ``auto`` would not take it), the native shift
(one pass of C) then oneDNN's convolution (``SHIFTLAB_FUSED_TSCONV=0``), the PyTorch shift
(``SHIFTLAB_NATIVE_SHIFT=0``) and the layer compiled with ``torch.compile`` (Inductor writes
its own C++ loop for the shift). The target is the shift for free: the layer at most the
(3, 1) convolution's own time. In the U-Net the shift is done
by the op before each layer (``shiftlab.models.shift_fusions``), except where the fused
operator runs the layer (then the op before writes its output unshifted and the operator reads
the shift); the block table times a block's ReLU and second layer as the block runs them
(at these widths: a plain ReLU, then the fused operator) against the same ReLU before a plain
(3, 1) and a 3×3 convolution. The U-Net table has the network as it runs (shifts fused) and as
it ran before (each layer shifting its own input).

Variants run interleaved within each round (a slow spell hits all of them), each round
starting at another variant, each step warmed once before it is timed, and the figure to read
is the ratio of medians measured in this run. Inputs are channels-last, as the tasks
run them on the CPU. The TSConv layer does a third of the 3×3 layer's multiply-adds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import torch
from _common import machine, ratio_figure

from shiftlab.models import ReLUTimeShift, TSConvUNet
from shiftlab.models.fused_tsconv import fused_tsconv_status
from shiftlab.models.shift_kernel import native_shift_status
from shiftlab.models.tsconv import TSConv2d, time_shift
from shiftlab.models.unet import activation_then_layer
from shiftlab.run.allocator import keep_freed_memory


def timed(step: Callable[[], None], repeats: int) -> float:
    synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    synchronize()
    return (time.perf_counter() - start) / repeats


def synchronize() -> None:
    """On a GPU, wait for the queued kernels: the clock then reads their time too."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class Shift(torch.nn.Module):
    """TSConv's shift step alone (no parameters), timed like a layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return time_shift(x)


class BlockSecondHalf(torch.nn.Module):
    """A U-Net block's ReLU and second layer, run as the block runs them
    (:func:`shiftlab.models.unet.activation_then_layer`)."""

    def __init__(self, activation: torch.nn.Module, layer: torch.nn.Module) -> None:
        super().__init__()
        self.activation, self.layer = activation, layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return activation_then_layer(self.activation, self.layer, x)


def layer_step(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """Forward and backward of ``layer`` with a fixed random gradient from above.

    A real gradient (not ``.sum()``'s, which is one value broadcast with zero strides) is what
    a layer gets inside a network, and what the native loops read.
    """
    upstream = torch.randn_like(layer(x).detach())

    def step() -> None:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        layer(x).backward(upstream)

    return step


class EachLayerShifts(TSConvUNet):
    """The TSConv U-Net as it ran before the fused shifts: every layer shifts its own input."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for block in [*self.down_blocks, *self.up_blocks]:
            block[1] = torch.nn.ReLU(inplace=True)
            block[0].shifted_input = block[2].shifted_input = False

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)

    def _up_and_join(self, low: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.up(low), skip], dim=1)


PATHS = {  # SHIFTLAB_NATIVE_SHIFT, SHIFTLAB_FUSED_TSCONV
    "auto": ("1", "auto"),  # as a shiftlab run chooses
    "fused": ("1", "1"),  # the fused shift + (3, 1) operator wherever it can run
    "native": ("1", "0"),  # the native shift, then oneDNN's convolution
    "torch": ("0", "0"),  # PyTorch ops only
}


def on_path(path: str, step: Callable[[], None]) -> Callable[[], None]:
    """``step`` on one of :data:`PATHS` (the switches are read at every call)."""
    native, fused = PATHS[path]

    def switched() -> None:
        os.environ["SHIFTLAB_NATIVE_SHIFT"], os.environ["SHIFTLAB_FUSED_TSCONV"] = native, fused
        step()

    return switched


def no_grad(function: Callable, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        with torch.no_grad():
            function(x)

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
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled layers")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (bench/gpu_check.sh)")
    parser.add_argument(
        "--system-allocator",
        action="store_true",
        help="leave glibc's allocator as it starts (a shiftlab run keeps freed memory)",
    )
    args = parser.parse_args()
    kept = keep_freed_memory(not args.system_allocator)  # as a shiftlab run does
    torch.manual_seed(0)
    cl = torch.channels_last
    device = torch.device(args.device)

    steps: dict[str, Callable[[], None]] = {}
    for channels in (16, 32, 64):
        x = torch.randn(args.batch, channels, 256, args.frames, device=device)
        x = x.contiguous(memory_format=cl).requires_grad_(True)
        tsconv = TSConv2d(channels, channels).to(device, memory_format=cl)
        conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(device, memory_format=cl)
        steps[f"TSConv {channels}"] = on_path("auto", layer_step(tsconv, x))
        if device.type == "cpu":
            steps[f"TSConv fused {channels}"] = on_path("fused", layer_step(tsconv, x))
            steps[f"TSConv native-shift {channels}"] = on_path("native", layer_step(tsconv, x))
        steps[f"TSConv torch-shift {channels}"] = on_path("torch", layer_step(tsconv, x))
        if not args.no_compile:
            steps[f"TSConv compiled {channels}"] = layer_step(torch.compile(tsconv), x)
        steps[f"3x3 conv {channels}"] = layer_step(conv, x)
        steps[f"shift {channels}"] = on_path("native", layer_step(Shift(), x))
        steps[f"shift torch {channels}"] = on_path("torch", layer_step(Shift(), x))
        steps[f"(3,1) conv {channels}"] = layer_step(tsconv.conv, x)
        # A TSConv layer after a ReLU, as in every U-Net block (as a block runs it, and with the
        # fused operator off: the shift fused into the ReLU, then oneDNN's convolution)
        # against the same ReLU before a (3, 1) and a 3×3 convolution.
        fused = TSConv2d(channels, channels, shifted_input=True).to(device, memory_format=cl)
        fused.load_state_dict(tsconv.state_dict())
        relu = torch.nn.ReLU()
        second_half = layer_step(BlockSecondHalf(ReLUTimeShift(), fused), x)
        steps[f"ReLU+TSConv fused {channels}"] = on_path("auto", second_half)
        if device.type == "cpu":
            steps[f"ReLU+TSConv shifting ReLU {channels}"] = on_path("native", second_half)
        steps[f"ReLU+(3,1) conv {channels}"] = layer_step(torch.nn.Sequential(relu, tsconv.conv), x)
        steps[f"ReLU+3x3 conv {channels}"] = layer_step(torch.nn.Sequential(relu, conv), x)
    for channels in (4, 8, 16):  # the shift alone, forward, no autograd: the copy itself
        x = torch.randn(args.batch, channels, 256, args.frames, device=device)
        x = x.contiguous(memory_format=cl)
        steps[f"bare shift {channels}"] = on_path("native", no_grad(time_shift, x))
        steps[f"bare shift torch {channels}"] = on_path("torch", no_grad(time_shift, x))
        steps[f"bare clone {channels}"] = no_grad(torch.clone, x)
    spec = torch.randn(args.batch, 1, 256, args.frames, device=device)
    spec = spec.contiguous(memory_format=cl)
    for kind in ("tsconv", "conv"):
        net = TSConvUNet(1, 1, freq_bins=256, block_conv=kind).to(device, memory_format=cl)
        steps[f"U-Net {kind}"] = on_path("auto", net_step(net, spec))
        if kind == "tsconv":
            steps["U-Net tsconv torch-shift"] = on_path("torch", net_step(net, spec))
            unfused = EachLayerShifts(1, 1, freq_bins=256).to(device, memory_format=cl)
            steps["U-Net tsconv each layer shifts"] = on_path("native", net_step(unfused, spec))

    for step in steps.values():  # warm-up (and the compiled layers' compilation)
        timed(step, 2)
    samples: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for round_index in range(args.rounds):
        # each round starts at another step, so that no variant always runs first (after the
        # U-Net steps that end the list) or always right after the same neighbour
        start = round_index * len(names) // args.rounds
        for name in names[start:] + names[:start]:
            steps[name]()  # untimed: the caches and allocator the step before left are its own
            samples[name].append(timed(steps[name], args.repeats))

    median = {name: statistics.median(values) for name, values in samples.items()}

    def against(name: str, baseline: str) -> str:  # per round: both ran in the same round
        return ratio_figure(samples[name], samples[baseline])

    print(machine())
    shift_path = native_shift_status() if device.type == "cpu" else "PyTorch (on the GPU)"
    fused_path = fused_tsconv_status() if device.type == "cpu" else "not on the GPU"
    allocator = "freed memory kept for reuse (as in a shiftlab run)" if kept else "as it starts"
    print(f"device: {device}; shift path: {shift_path}; fused TSConv operator: {fused_path}; "
          f"glibc's allocator: {allocator}")  # fmt: skip
    print(f"input {args.batch}×C×256×{args.frames} channels-last, forward + backward "
          "(input gradient included), "
          f"{args.rounds} interleaved rounds × {args.repeats} steps; ratios: median of rounds "
          "(range)")  # fmt: skip
    print()
    print("| channels | TSConv / 3×3, as a run chooses | fused operator | native shift, then "
          "the convolution | PyTorch shift | compiled layer | (3,1) conv / 3×3 (the target) "
          "| met? |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")

    def versus(name: str, baseline: str) -> str:  # "—" for a variant this device skips
        return against(name, baseline) if name in samples else "—"

    def versus_3x3(name: str, c: int) -> str:
        return versus(name, f"3x3 conv {c}")

    for c in (16, 32, 64):
        target = median[f"(3,1) conv {c}"] / median[f"3x3 conv {c}"]
        met = "yes" if median[f"TSConv {c}"] <= median[f"(3,1) conv {c}"] else "no"
        print(f"| {c} | {versus_3x3(f'TSConv {c}', c)} | {versus_3x3(f'TSConv fused {c}', c)} | "
              f"{versus_3x3(f'TSConv native-shift {c}', c)} | "
              f"{versus_3x3(f'TSConv torch-shift {c}', c)} | "
              f"{versus_3x3(f'TSConv compiled {c}', c)} | {target:.2f} | {met} |")  # fmt: skip
    print()
    print("| channels | ReLU → TSConv as a block runs it, / ReLU → 3×3 "
          "| shift fused into the ReLU, then the convolution (operator off) "
          "| ReLU → (3,1) conv / ReLU → 3×3 (the target) "
          "| as a block runs it / ReLU → (3,1) conv (1: the shift free) | met? |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for c in (16, 32, 64):
        fused, alone = f"ReLU+TSConv fused {c}", f"ReLU+(3,1) conv {c}"
        met = "yes" if median[fused] <= median[alone] * 1.02 else "no"  # within 2 %: noise
        print(
            f"| {c} | {against(fused, f'ReLU+3x3 conv {c}')} | "
            f"{versus(f'ReLU+TSConv shifting ReLU {c}', f'ReLU+3x3 conv {c}')} | "
            f"{against(alone, f'ReLU+3x3 conv {c}')} | {against(fused, alone)} | {met} |"
        )
    print()
    print("| channels | TSConv (ms) | shift alone, native / PyTorch (ms) | (3,1) conv (ms) "
          "| 3×3 conv (ms) | compiled TSConv (ms) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for c in (16, 32, 64):
        compiled = median.get(f"TSConv compiled {c}")
        print(f"| {c} | {median[f'TSConv {c}'] * 1e3:.1f} | "
              f"{median[f'shift {c}'] * 1e3:.1f} / {median[f'shift torch {c}'] * 1e3:.1f} | "
              f"{median[f'(3,1) conv {c}'] * 1e3:.1f} | {median[f'3x3 conv {c}'] * 1e3:.1f} | "
              f"{'—' if compiled is None else f'{compiled * 1e3:.1f}'} |")  # fmt: skip
    print()
    print("| shift alone, forward, channels | native (ms) | PyTorch (ms) | plain clone (ms) |")
    print("|---|---|---|---|")
    for c in (4, 8, 16):
        print(f"| {c} | {median[f'bare shift {c}'] * 1e3:.2f} | "
              f"{median[f'bare shift torch {c}'] * 1e3:.2f} | "
              f"{median[f'bare clone {c}'] * 1e3:.2f} |")  # fmt: skip
    print()
    print("| U-Net training step | ms | / 3×3 U-Net, median (range) | target |")
    print("|---|---|---|---|")
    for name, label in (("U-Net tsconv", "TSConv, shifts fused (native)"),
                        ("U-Net tsconv each layer shifts", "TSConv, each layer shifting its "
                         "own input (native shift)"),
                        ("U-Net tsconv torch-shift", "TSConv, PyTorch ops"),
                        ("U-Net conv", "3×3 convolutions")):  # fmt: skip
        ratio = "1" if name == "U-Net conv" else against(name, "U-Net conv")
        print(f"| {label} | {median[name] * 1e3:.1f} | {ratio} | ≤ 0.8 |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "samples": samples}, f, indent=2)


if __name__ == "__main__":
    main()
