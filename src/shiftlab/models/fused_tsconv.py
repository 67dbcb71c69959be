"""TSConv's shift and (3, 1) convolution as one native operator, with its backward.

A TSConv layer shifts its input into a new tensor, convolves it, and backward shifts the
gradient back: one copy of the activation each way on top of the convolution. This operator
does neither copy: its loops (``tsconv_conv.c``) read each shifted channel from the step
before or after, forward and in both gradients, and keeps no shifted tensor for backward,
only the input. Its loops also run about as fast as oneDNN's (3, 1) convolution at 16
channels and faster at 32 and 64 (bench/tsconv_layer.py, bench/RESULTS.md section 3, round
five), so where it runs a layer the U-Net hands that layer its input unshifted instead of
fusing the shift into the op before (:mod:`shiftlab.models.unet`,
:meth:`~shiftlab.models.tsconv.TSConv2d.fuses_shift`).

It runs where it was measured faster than the shift plus oneDNN's convolution (bench/
tsconv_layer.py, the ``fused operator`` column): float32 CPU tensors in channels-last memory,
in and out channels multiples of 16, zero borders, on a CPU with AVX-512 (the library is
built for the CPU it runs on, ``-march=native``). Everywhere else, under ``torch.compile``,
ONNX export and CPU autocast, the layer keeps the shift and ``F.conv2d``, which give the same
values to float32 rounding. ``SHIFTLAB_FUSED_TSCONV=0`` turns it off, ``=1``
also uses it without AVX-512 (for tests and benchmarks: the AVX2 and baseline builds give the
same values, at speeds not measured against oneDNN's here);
``SHIFTLAB_NATIVE_SHIFT=0`` turns off every native loop.
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

import torch
from torch.autograd.function import once_differentiable

from shiftlab.native_build import LazyLibrary

log = logging.getLogger(__name__)

_SOURCE = Path(__file__).with_name("tsconv_conv.c").read_text()
# -march=native: the tile sizes follow the vector registers the CPU has (the library is
# cached per CPU); -fno-tree-vectorize: the loops are written with vectors already, and the
# auto-vectoriser's extra versions of them ran slower
_FLAG_SETS = [["-O3", "-fno-tree-vectorize", "-march=native"], ["-O3", "-fno-tree-vectorize"]]
_LANES = 16  # channels a vector holds in the AVX-512 build; counts must be multiples of 16


def _setting() -> str:
    """``auto`` (default), ``on`` or ``off`` from SHIFTLAB_FUSED_TSCONV / SHIFTLAB_NATIVE_SHIFT."""
    off = {"0", "false", "no", "off"}
    if os.environ.get("SHIFTLAB_NATIVE_SHIFT", "1").strip().lower() in off:
        return "off"
    value = os.environ.get("SHIFTLAB_FUSED_TSCONV", "auto").strip().lower()
    if value in off:
        return "off"
    return "on" if value in {"1", "true", "yes", "on"} else "auto"


def _declare(library: ctypes.CDLL) -> None:
    long, ptr, i32 = ctypes.c_long, ctypes.c_void_p, ctypes.c_int
    library.shiftlab_tsconv_forward.argtypes = [ptr] * 4 + [long] * 7 + [i32]
    library.shiftlab_tsconv_grad_input.argtypes = [ptr] * 3 + [long] * 7 + [i32]
    library.shiftlab_tsconv_grad_weight.argtypes = [ptr] * 5 + [long] * 7 + [i32]
    library.shiftlab_tsconv_workspace.argtypes = [long] * 3
    library.shiftlab_tsconv_workspace.restype = long
    for function in (
        library.shiftlab_tsconv_forward,
        library.shiftlab_tsconv_grad_input,
        library.shiftlab_tsconv_grad_weight,
    ):
        function.restype = None
    library.shiftlab_tsconv_lanes.argtypes = []
    library.shiftlab_tsconv_lanes.restype = ctypes.c_int


_library = LazyLibrary(
    "tsconv_conv", _SOURCE, _FLAG_SETS, _declare, "the fused TSConv",
    on_failure=lambda reason: log.info("TSConv layers shift, then convolve: %s", reason),
)  # fmt: skip


def _load() -> ctypes.CDLL | None:
    return _library.get()


def fused_tsconv_status() -> str:
    """``"fused"`` where the operator runs (for layers it applies to), otherwise why not."""
    setting = _setting()
    if setting == "off":
        return "off (SHIFTLAB_FUSED_TSCONV=0 or SHIFTLAB_NATIVE_SHIFT=0)"
    library = _load()
    if library is None:
        return str(_library.reason)
    if setting == "auto" and library.shiftlab_tsconv_lanes() < _LANES:
        return "not used: no AVX-512 on this CPU (SHIFTLAB_FUSED_TSCONV=1 uses it anyway)"
    return "fused"


def fused_applies(x: torch.Tensor, conv: torch.nn.Conv2d) -> bool:
    """Whether :func:`fused_tsconv` runs the layer ``conv`` (a (3, 1) convolution) on ``x``."""
    setting = _setting()
    if setting == "off" or x.device.type != "cpu" or x.dtype != torch.float32 or x.dim() != 4:
        return False
    if torch.compiler.is_compiling() or torch.compiler.is_exporting() or torch.jit.is_tracing():
        return False
    if torch.is_autocast_enabled("cpu"):
        return False  # autocast would run the convolution in bfloat16: leave it to F.conv2d
    weight = conv.weight
    if weight.dtype != torch.float32 or weight.device.type != "cpu" or conv.groups != 1:
        return False
    if conv.padding_mode != "zeros":
        return False
    if tuple(conv.kernel_size) != (3, 1) or tuple(conv.padding) != (1, 0):
        return False
    if tuple(conv.stride) != (1, 1) or tuple(conv.dilation) != (1, 1):
        return False
    c_in, c_out = conv.in_channels, conv.out_channels
    if c_in % _LANES or c_out % _LANES or x.numel() == 0:
        return False
    if not x.is_contiguous(memory_format=torch.channels_last):
        return False
    library = _load()
    if library is None:
        return False
    return setting == "on" or library.shiftlab_tsconv_lanes() >= _LANES


def _threads_for(x: torch.Tensor) -> int:
    """torch's intra-op thread count, one for inputs under 64 kB (a few µs of work a thread:
    its multiply-adds, 48 to 192 per input value, make even small tensors worth splitting)."""
    return 1 if x.numel() * x.element_size() < (1 << 16) else torch.get_num_threads()


def _aligned(buffer: torch.Tensor) -> int:
    """The first 64-byte boundary in ``buffer`` (allocated 64 bytes longer than needed)."""
    return (buffer.data_ptr() + 63) // 64 * 64


def _forward(x, weight, bias, static: int, g: int) -> torch.Tensor:
    library = _load()
    assert library is not None
    n, c_in, f, t = x.shape
    c_out = weight.shape[0]
    # w[k][c][o]: the loop reads vectors of output channels
    w = weight.detach()[:, :, :, 0].permute(2, 1, 0).contiguous()
    b = bias.detach().contiguous() if bias is not None else x.new_zeros(c_out)
    y = torch.empty((n, c_out, f, t), dtype=x.dtype, memory_format=torch.channels_last)
    library.shiftlab_tsconv_forward(
        x.data_ptr(), w.data_ptr(), b.data_ptr(), y.data_ptr(),
        n, f, t, c_in, c_out, static, g, _threads_for(x),
    )  # fmt: skip
    return y


class _FusedTSConv(torch.autograd.Function):
    """Forward and both gradients in native loops; saves the input and weight only."""

    @staticmethod
    def forward(ctx, x, weight, bias, static: int, g: int):
        ctx.static, ctx.g, ctx.has_bias = static, g, bias is not None
        ctx.save_for_backward(x, weight)
        return _forward(x, weight, bias, static, g)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        library = _load()
        assert library is not None
        n, c_in, f, t = x.shape
        c_out = weight.shape[0]
        grad = grad.contiguous(memory_format=torch.channels_last)
        threads = _threads_for(x)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            # w[k][o][c]: the loop reads vectors of input channels
            w = weight.detach()[:, :, :, 0].permute(2, 0, 1).contiguous()
            grad_x = torch.empty_like(x, memory_format=torch.channels_last)
            library.shiftlab_tsconv_grad_input(
                grad.data_ptr(), w.data_ptr(), grad_x.data_ptr(),
                n, f, t, c_in, c_out, ctx.static, ctx.g, threads,
            )  # fmt: skip
        if ctx.needs_input_grad[1] or (ctx.has_bias and ctx.needs_input_grad[2]):
            sums = x.new_zeros(3, c_out, c_in)  # gw[k][o][c]
            bias_sums = x.new_zeros(c_out)
            # per thread: its partial sums and three shifted rows of x (64-byte aligned rows)
            per_thread = library.shiftlab_tsconv_workspace(t, c_in, c_out)
            work = torch.empty(threads * (per_thread + _LANES), dtype=torch.float32)
            library.shiftlab_tsconv_grad_weight(
                grad.data_ptr(), x.data_ptr(), sums.data_ptr(), bias_sums.data_ptr(),
                _aligned(work), n, f, t, c_in, c_out, ctx.static, ctx.g, threads,
            )  # fmt: skip
            if ctx.needs_input_grad[1]:
                grad_w = torch.empty_like(weight)
                grad_w.copy_(sums.permute(1, 2, 0).unsqueeze(-1))
            if ctx.has_bias and ctx.needs_input_grad[2]:
                grad_b = bias_sums
        return grad_x, grad_w, grad_b, None, None


def fused_tsconv(x: torch.Tensor, conv: torch.nn.Conv2d, static: int, g: int) -> torch.Tensor:
    """``conv(time_shift(x))`` for a zero-border shift of ``static`` channels kept and ``g``
    shifted each way, in one native operator (call where :func:`fused_applies` says so)."""
    if torch.is_grad_enabled() and (
        x.requires_grad
        or conv.weight.requires_grad
        or (conv.bias is not None and conv.bias.requires_grad)
    ):
        return _FusedTSConv.apply(x, conv.weight, conv.bias, static, g)
    return _forward(x, conv.weight, conv.bias, static, g)
