"""TSConv's zero-border time shift, alone or fused into the op before it, as native loops.

PyTorch does the shift as a clone plus strided slice copies: four passes over the tensor, and
in channels-last memory each shifted group is a run of a few floats per pixel, which PyTorch
copies element by element (16 of a 40 ms layer step at 16 channels here). The shift is pure
data movement, so a C loop that writes each output row once, reading the static channels from
the same time step and the shifted groups from the step before or after, runs at about the
speed of one plain copy, for every dtype (it moves bytes) and for both memory formats. The
same loop can do the work of the op before the layer in that pass (a ReLU, the U-Net's
pooling, its upsampling and concatenation: :mod:`shiftlab.models.shift_fusions`), which makes
the shift free.

The loops run on torch's own OpenMP threads: the library is linked against the OpenMP runtime
by its soname, which in a process that has imported torch resolves to the runtime torch
loaded, so its workers, still awake after torch's last parallel op, take the other lines.
Threads of the library's own competed with those workers for the cores (measured slower in
the U-Net's training step here); tensors under 1 MiB stay on one thread.

The C source (``time_shift.c`` beside this module) is compiled with the system's C compiler
(``cc``/``gcc``) into ``~/.cache/shiftlab/kernels`` (``SHIFTLAB_CACHE_DIR`` moves it) the
first time a TSConv layer runs, about a second, and loaded with ctypes
(:mod:`shiftlab.native_build`). On x86-64 the loops are built
for AVX2 and for the baseline, and the CPU picks at load time. Where no compiler exists, or
``SHIFTLAB_NATIVE_SHIFT=0``, or the tensor is not on the CPU or not in a layout the loop knows,
the ``native_*`` functions answer ``None`` and the callers use PyTorch ops, which give the
same values.
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

import torch

from shiftlab.native_build import LazyLibrary

log = logging.getLogger(__name__)

# The C source sits beside this module (shipped in the package like any other file).
_SOURCE = Path(__file__).with_name("time_shift.c").read_text()


# The loop keeps three masks of a row block on its stack: 3 × 4096 × 8 bytes at most.
_MAX_CHANNELS = 4096


def _enabled() -> bool:
    return os.environ.get("SHIFTLAB_NATIVE_SHIFT", "1").strip().lower() not in {"0", "false", "no"}


_FLAGS = ["-O3"]


def _declare(library: ctypes.CDLL) -> None:
    long, ptr, i32 = ctypes.c_long, ctypes.c_void_p, ctypes.c_int
    library.shiftlab_shift_channels_last.argtypes = [ptr, ptr] + [long] * 6 + [i32] * 2
    library.shiftlab_shift_contiguous.argtypes = [ptr, ptr] + [long] * 7 + [i32] * 2
    library.shiftlab_relu_shift.argtypes = [ptr, ptr, ptr] + [long] * 6 + [i32] * 4
    library.shiftlab_relu_shift.restype = None
    for suffix in ("f32", "f64"):
        pool = getattr(library, f"shiftlab_pool_shift_{suffix}")
        pool_back = getattr(library, f"shiftlab_pool_shift_backward_{suffix}")
        upcat = getattr(library, f"shiftlab_upcat_shift_{suffix}")
        upcat_back = getattr(library, f"shiftlab_upcat_shift_backward_{suffix}")
        pool.argtypes = [ptr, ptr] + [long] * 6 + [i32]
        pool_back.argtypes = [ptr, ptr, ptr] + [long] * 6 + [i32]
        upcat.argtypes = [ptr, ptr, ptr] + [long] * 7 + [i32]
        upcat_back.argtypes = [ptr, ptr, ptr] + [long] * 7 + [i32]
        for function in (pool, pool_back, upcat, upcat_back):
            function.restype = None
    library.shiftlab_shift_channels_last.restype = None
    library.shiftlab_shift_contiguous.restype = None


_library = LazyLibrary(
    "time_shift", _SOURCE, [_FLAGS], _declare, "the native shift",
    on_failure=lambda reason: log.warning("TSConv uses the PyTorch shift: %s", reason),
)  # fmt: skip


def _load() -> ctypes.CDLL | None:
    """The compiled library, built on first use; None (with the reason kept) where it cannot be."""
    return _library.get()


# Each thread gets at least this many bytes: waking one of torch's OpenMP threads costs a few
# µs, a 256 kB pass ~30 µs. (At 1 MB the U-Net's lower levels, 0.5–1 MB, ran on one thread:
# its step took 0.804× the 3×3 U-Net's against 0.768× at 256 kB, 15 rounds side by side.)
_BYTES_PER_THREAD = 1 << 18


def _threads_for(x: torch.Tensor) -> int:
    """Threads for one pass over ``x``: torch's intra-op count, fewer for small tensors."""
    by_size = max(1, x.numel() * x.element_size() // _BYTES_PER_THREAD)
    return int(min(torch.get_num_threads(), by_size))


def native_shift_status() -> str:
    """``"native"`` when the compiled shift is in use, otherwise why the PyTorch path is."""
    if not _enabled():
        return "off (SHIFTLAB_NATIVE_SHIFT=0)"
    return "native" if _load() is not None else str(_library.reason)


def native_zero_shift(x: torch.Tensor, static: int, g: int, forward: bool) -> torch.Tensor | None:
    """The zero-border shift of ``x`` (N×C×F×T) in one native pass, or None where unavailable.

    ``forward=False`` shifts each group the other way (the adjoint, for gradients). The result
    has the memory format of ``x``: channels-last or contiguous; other layouts answer None.
    """
    if not _enabled() or x.device.type != "cpu" or x.dim() != 4 or x.numel() == 0:
        return None
    if torch.compiler.is_compiling() or (x.requires_grad and torch.is_grad_enabled()):
        return None  # compiled graphs and autograd go through the caller's Function
    channels_last = x.is_contiguous(memory_format=torch.channels_last)
    if not channels_last and not x.is_contiguous():
        return None
    library = _load()
    if library is None:
        return None
    n, c, f, t = x.shape
    if x.element_size() not in (1, 2, 4, 8) or c > _MAX_CHANNELS:
        return None  # complex128 and the like, or rows too wide for the loop's mask tables
    out = torch.empty_like(x)
    elem = x.element_size()
    threads = _threads_for(x)
    if channels_last:  # also right where both layouts coincide (F = T = 1)
        library.shiftlab_shift_channels_last(
            x.data_ptr(), out.data_ptr(), n * f, t, c, static, g, elem, int(forward), threads
        )
    else:
        library.shiftlab_shift_contiguous(
            x.data_ptr(),
            out.data_ptr(),
            n * c * f,
            c,
            f,
            t,
            static,
            g,
            elem,
            int(forward),
            threads,
        )
    return out


# The fused ReLU + shift works on the bits of these floating-point types (its kernel's `kind`).
_RELU_KINDS = {torch.float32: 0, torch.float64: 1, torch.bfloat16: 2, torch.float16: 3}


def _relu_shift_layout(x: torch.Tensor) -> int | None:
    """0 for channels-last, 1 for contiguous, None where the fused loop cannot run on ``x``."""
    if not _enabled() or x.device.type != "cpu" or x.dim() != 4 or x.numel() == 0:
        return None
    if torch.compiler.is_compiling() or x.dtype not in _RELU_KINDS or x.shape[1] > _MAX_CHANNELS:
        return None
    if x.is_contiguous(memory_format=torch.channels_last):
        return 0  # also right where both layouts coincide
    return 1 if x.is_contiguous() else None


def native_relu_shift(x: torch.Tensor, static: int, g: int) -> torch.Tensor | None:
    """``relu`` then the zero-border shift of ``x`` in one native pass, or None where unavailable.

    Meant for :mod:`shiftlab.models.shift_fusions` and its autograd Function; the result keeps the
    memory format of ``x``.
    """
    layout = _relu_shift_layout(x)
    library = _load() if layout is not None else None
    if library is None:
        return None
    out = torch.empty_like(x)
    _run_relu_shift(library, x, None, out, static, g, layout)
    return out


def native_relu_shift_backward(
    grad: torch.Tensor, output: torch.Tensor, static: int, g: int
) -> torch.Tensor | None:
    """The input's gradient of the fused ReLU + shift, from the output's gradient and the output.

    ``grad`` is brought to ``output``'s layout first (autograd may hand it in another one).
    """
    layout = _relu_shift_layout(output)
    library = _load() if layout is not None else None
    if library is None or grad.dtype != output.dtype or grad.shape != output.shape:
        return None
    memory_format = torch.channels_last if layout == 0 else torch.contiguous_format
    grad = grad.contiguous(memory_format=memory_format)
    out = torch.empty_like(output)
    _run_relu_shift(library, grad, output, out, static, g, layout)
    return out


def _run_relu_shift(
    library: ctypes.CDLL,
    x: torch.Tensor,
    aux: torch.Tensor | None,
    out: torch.Tensor,
    static: int,
    g: int,
    layout: int,
) -> None:
    n, c, f, t = x.shape
    lines = n * f if layout == 0 else n * c * f
    library.shiftlab_relu_shift(
        x.data_ptr(),
        None if aux is None else aux.data_ptr(),
        out.data_ptr(),
        lines,
        c,
        f,
        t,
        static,
        g,
        _RELU_KINDS[x.dtype],
        layout,
        int(aux is not None),
        _threads_for(x),
    )


# The pooling and upsampling fusions: channels-last float32 / float64 (the U-Net on the CPU).
_FUSED_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
_MAX_ROW = 4096  # the C source's row of zeros


def _fusable(*tensors: torch.Tensor) -> ctypes.CDLL | None:
    """The library, where every tensor is a channels-last CPU tensor the fused loops can read."""
    if not _enabled() or torch.compiler.is_compiling():
        return None
    for x in tensors:
        if x.device.type != "cpu" or x.dim() != 4 or x.numel() == 0:
            return None
        if x.dtype not in _FUSED_SUFFIX or x.dtype != tensors[0].dtype:
            return None
        if x.shape[1] > _MAX_ROW or not x.is_contiguous(memory_format=torch.channels_last):
            return None
    return _load()


def pool_shift_applies(x: torch.Tensor) -> bool:
    """Whether :func:`native_pool_shift` runs on ``x`` (else the caller uses the plain ops)."""
    return _fusable(x) is not None and x.shape[2] % 2 == 0


def upsample_cat_shift_applies(low: torch.Tensor, skip: torch.Tensor) -> bool:
    """Whether :func:`native_upsample_cat_shift` runs on ``low`` and ``skip``."""
    if _fusable(low, skip) is None or low.shape[1] + skip.shape[1] > _MAX_ROW:
        return False
    n, _, f, t = skip.shape
    return low.shape[0] == n and low.shape[3] == t and 2 * low.shape[2] == f


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def _empty(x: torch.Tensor, n: int, c: int, f: int, t: int) -> torch.Tensor:
    return torch.empty((n, c, f, t), dtype=x.dtype, memory_format=torch.channels_last)


def native_pool_shift(x: torch.Tensor, static: int, g: int) -> torch.Tensor | None:
    """``max_pool2d(x, (2, 1))`` then the zero-border shift, in one pass; None where unavailable.

    ``x`` is N×C×F×T with F even, channels-last.
    """
    if not pool_shift_applies(x):
        return None
    library = _load()
    n, c, f, t = x.shape
    out = _empty(x, n, c, f // 2, t)
    getattr(library, f"shiftlab_pool_shift_{_FUSED_SUFFIX[x.dtype]}")(
        x.data_ptr(), out.data_ptr(), n, f, t, c, static, g, _threads_for(x)
    )
    return out


def native_pool_shift_backward(
    grad: torch.Tensor, x: torch.Tensor, static: int, g: int
) -> torch.Tensor | None:
    """The gradient of :func:`native_pool_shift` for its input ``x``."""
    grad = _channels_last(grad)
    library = _fusable(grad, x)
    n, c, f, t = x.shape
    if library is None or f % 2 or grad.shape != (n, c, f // 2, t):
        return None
    out = _empty(x, n, c, f, t)
    getattr(library, f"shiftlab_pool_shift_backward_{_FUSED_SUFFIX[x.dtype]}")(
        grad.data_ptr(), x.data_ptr(), out.data_ptr(), n, f, t, c, static, g, _threads_for(x)
    )
    return out


def native_upsample_cat_shift(
    low: torch.Tensor, skip: torch.Tensor, static: int, g: int
) -> torch.Tensor | None:
    """Nearest (2, 1) upsampling of ``low``, concatenated with ``skip`` on channels, shifted.

    ``low`` is N×Ca×(F/2)×T, ``skip`` N×Cb×F×T, both channels-last; the shift's groups are
    those of the Ca + Cb channels. None where unavailable.
    """
    if not upsample_cat_shift_applies(low, skip):
        return None
    library = _load()
    n, ca, _, t = low.shape
    cb, f = skip.shape[1], skip.shape[2]
    out = _empty(skip, n, ca + cb, f, t)
    getattr(library, f"shiftlab_upcat_shift_{_FUSED_SUFFIX[low.dtype]}")(
        low.data_ptr(),
        skip.data_ptr(),
        out.data_ptr(),
        n,
        f,
        t,
        ca,
        cb,
        static,
        g,
        _threads_for(out),
    )
    return out


def native_upsample_cat_shift_backward(
    grad: torch.Tensor, low_channels: int, static: int, g: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The gradients of :func:`native_upsample_cat_shift` for ``low`` and ``skip``."""
    grad = _channels_last(grad)
    library = _fusable(grad)
    n, c, f, t = grad.shape
    if library is None or f % 2 or not 0 < low_channels < c:
        return None
    ca, cb = low_channels, c - low_channels
    low, skip = _empty(grad, n, ca, f // 2, t), _empty(grad, n, cb, f, t)
    getattr(library, f"shiftlab_upcat_shift_backward_{_FUSED_SUFFIX[grad.dtype]}")(
        grad.data_ptr(),
        low.data_ptr(),
        skip.data_ptr(),
        n,
        f,
        t,
        ca,
        cb,
        static,
        g,
        _threads_for(grad),
    )
    return low, skip
