"""The uint8 → normalised float32 step on a CPU in one native pass (``normalize_u8.c``).

Where the device that normalises a batch is the CPU (training without a GPU, the benchmarks'
one-core pipelines), this pass is most of what normalising on the device costs; torch's three
passes take 2.4× as long for the same values. The library is built with the system's C
compiler at first use (:mod:`shiftlab.native_build`, about half a second, cached); where that
cannot happen, or with ``SHIFTLAB_NATIVE_NORMALIZE=0``, :func:`normalize_u8` returns None and
the caller uses torch's passes, which give the same values.
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

import torch

from shiftlab.native_build import LazyLibrary

log = logging.getLogger(__name__)

_SOURCE = Path(__file__).with_name("normalize_u8.c").read_text()
_FLAG_SETS = [["-O3", "-march=native"], ["-O3"]]
# a thread takes at least this many input bytes (its output is four times as many): below
# that, waking one costs more than it saves
_BYTES_PER_THREAD = 1 << 16


def _declare(library: ctypes.CDLL) -> None:
    long, ptr, i32 = ctypes.c_long, ctypes.c_void_p, ctypes.c_int
    library.shiftlab_normalize_channels_last.argtypes = [ptr, ptr, long, long, ptr, ptr, i32]
    library.shiftlab_normalize_planes.argtypes = [ptr, ptr, long, long, long, ptr, ptr, i32]
    library.shiftlab_normalize_channels_last.restype = None
    library.shiftlab_normalize_planes.restype = None


_library = LazyLibrary(
    "normalize_u8", _SOURCE, _FLAG_SETS, _declare, "the native normalisation",
    on_failure=lambda reason: log.info("uint8 batches are normalised by torch: %s", reason),
)  # fmt: skip


def _enabled() -> bool:
    value = os.environ.get("SHIFTLAB_NATIVE_NORMALIZE", "1").strip().lower()
    return value not in {"0", "false", "no", "off"}


def _threads_for(images: torch.Tensor) -> int:
    return int(min(torch.get_num_threads(), max(1, images.numel() // _BYTES_PER_THREAD)))


def normalize_u8(
    images: torch.Tensor, shift: list[float], scale: list[float]
) -> torch.Tensor | None:
    """``(images - shift) * scale`` per channel as float32, in the batch's memory format, for
    an N×C×H×W uint8 batch on the CPU; None where the native pass does not apply (another
    device or dtype, switched off, no library)."""
    if images.device.type != "cpu" or images.dtype != torch.uint8 or images.dim() != 4:
        return None
    if images.numel() == 0 or not _enabled():
        return None
    library = _library.get()
    if library is None:
        return None
    n, c, h, w = images.shape
    threads = _threads_for(images)
    if images.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous():
        out = torch.empty(images.shape, dtype=torch.float32, memory_format=torch.channels_last)
        row_shift = torch.tensor(shift * w, dtype=torch.float32)
        row_scale = torch.tensor(scale * w, dtype=torch.float32)
        library.shiftlab_normalize_channels_last(
            images.data_ptr(), out.data_ptr(), n * h, w * c,
            row_shift.data_ptr(), row_scale.data_ptr(), threads,
        )  # fmt: skip
        return out
    images = images.contiguous()
    out = torch.empty(images.shape, dtype=torch.float32)
    plane_shift = torch.tensor(shift, dtype=torch.float32)
    plane_scale = torch.tensor(scale, dtype=torch.float32)
    library.shiftlab_normalize_planes(
        images.data_ptr(), out.data_ptr(), n * c, h * w, c,
        plane_shift.data_ptr(), plane_scale.data_ptr(), threads,
    )  # fmt: skip
    return out
