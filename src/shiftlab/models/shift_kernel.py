"""TSConv's zero-border time shift as one pass of native code, built at first use.

PyTorch does the shift as a clone plus strided slice copies: four passes over the tensor, and
in channels-last memory each shifted group is a run of a few floats per pixel, which PyTorch
copies element by element (16 of a 40 ms layer step at 16 channels here). The shift is pure
data movement, so a C loop that writes each output row once, reading the static channels from
the same time step and the shifted groups from the step before or after, runs at the speed of
one plain copy, for every dtype (it moves bytes) and for both memory formats. It runs on one
thread: the copy is bound by memory, and threads of its own would compete with torch's OpenMP
workers, which spin for a while after each parallel region (two threads measured slower in
the U-Net's training step here).

The library is a few dozen lines of C compiled with the system's C compiler (``cc``/``gcc``)
into ``~/.cache/shiftlab/kernels`` (``SHIFTLAB_CACHE_DIR`` moves it) the first time a TSConv
layer runs, about a second, and loaded with ctypes: no Python headers, no torch headers and no
build of a torch extension, so it also works where ``torch.utils.cpp_extension`` would take a
minute to compile. Where no compiler exists, or ``SHIFTLAB_NATIVE_SHIFT=0``, or the tensor is
not on the CPU or not in a layout the loop knows, :func:`native_zero_shift` answers ``None``
and the caller uses the PyTorch path, which gives the same values.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch

log = logging.getLogger(__name__)

_SOURCE = r"""
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* What one of the two loops below reads: `lines` lines of the tensor's layout. */
typedef struct {
    const char *src; char *dst;
    long lines;
    long T, F, C, S, g, elem;
    int forward;
} job_t;

/* Channels-last: lines of T rows of C elements, one line per (n, f), one row per t. Within a
   row the static channels come first, then the group that takes the previous step, then the
   group that takes the next one; `forward` = 0 swaps the two groups' directions (the adjoint,
   for gradients). Inside a line every output element is one of three inputs: the same place,
   one row back or one row on, chosen per channel; the loop blends the three with bit masks
   laid out for a block of rows, which the compiler turns into vector loads and ands with no
   gather and no branch. The first and last rows, where a group reads nothing, are written
   apart. Typed by element size so that bits move untouched (any dtype). */
#define SHIFT_ROWS(NAME, TYPE)                                                             \
static void NAME(const job_t *j) {                                                         \
    const long C = j->C, S = j->S, G = j->g, T = j->T;                                     \
    const long take_prev = j->forward ? S : S + G, take_next = j->forward ? S + G : S;     \
    const long R = C >= 256 ? 1 : (256 + C - 1) / C, B = R * C; /* rows, elements a block */ \
    TYPE keep[B], prev[B], next[B];                                                        \
    for (long k = 0; k < B; ++k) {                                                         \
        const long c = k % C;                                                              \
        const int p = c >= take_prev && c < take_prev + G;                                 \
        const int n = c >= take_next && c < take_next + G;                                 \
        prev[k] = p ? (TYPE)~(TYPE)0 : 0; next[k] = n ? (TYPE)~(TYPE)0 : 0;                \
        keep[k] = p || n ? 0 : (TYPE)~(TYPE)0;                                             \
    }                                                                                      \
    const TYPE *src = (const TYPE *)j->src; TYPE *dst = (TYPE *)j->dst;                    \
    for (long line = 0; line < j->lines; ++line) {                                    \
        const TYPE *in = src + line * T * C; TYPE *out = dst + line * T * C;               \
        for (long t = 1; t < T - 1;) {                                                     \
            const long rows = T - 1 - t < R ? T - 1 - t : R, n = rows * C;                 \
            const TYPE *i = in + t * C; TYPE *o = out + t * C;                             \
            for (long k = 0; k < n; ++k)                                                   \
                o[k] = (i[k] & keep[k]) | (i[k - C] & prev[k]) | (i[k + C] & next[k]);     \
            t += rows;                                                                     \
        }                                                                                  \
        for (long t = 0; t < T; t += T - 1 > 0 ? T - 1 : 1) { /* the first and last rows */ \
            const TYPE *i = in + t * C; TYPE *o = out + t * C;                             \
            for (long c = 0; c < S; ++c) o[c] = i[c];                                      \
            for (long c = 0; c < G; ++c) {                                                 \
                o[take_prev + c] = t > 0 ? i[take_prev + c - C] : 0;                       \
                o[take_next + c] = t < T - 1 ? i[take_next + c + C] : 0;                   \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
}
SHIFT_ROWS(shift_rows_1, uint8_t)
SHIFT_ROWS(shift_rows_2, uint16_t)
SHIFT_ROWS(shift_rows_4, uint32_t)
SHIFT_ROWS(shift_rows_8, uint64_t)

static void shift_rows(const job_t *j) {
    switch (j->elem) {
        case 1: shift_rows_1(j); return;
        case 2: shift_rows_2(j); return;
        case 4: shift_rows_4(j); return;
        default: shift_rows_8(j); return; /* the caller passes only 1, 2, 4 or 8 */
    }
}

/* Contiguous N×C×F×T: lines of T elements, one per (n, c, f). */
static void shift_lines(const job_t *j) {
    const long E = j->elem, L = j->T * E;
    for (long r = 0; r < j->lines; ++r) {
        const long c = (r / j->F) % j->C;
        const char *in = j->src + r * L;
        char *out = j->dst + r * L;
        int take_prev = c >= j->S && c < j->S + j->g;
        if (c < j->S) { memcpy(out, in, L); continue; }
        if (!j->forward) take_prev = !take_prev;
        if (take_prev) { memset(out, 0, E); memcpy(out + E, in, L - E); }
        else { memcpy(out, in + E, L - E); memset(out + L - E, 0, E); }
    }
}

/* x, out: channels-last N×C×F×T; `lines` = N*F lines of T rows of C elements of `elem` bytes. */
void shiftlab_shift_channels_last(const void *x, void *out, long lines, long T, long C,
                                  long S, long g, long elem, int forward) {
    job_t j = {(const char *)x, (char *)out, lines, T, 1, C, S, g, elem, forward};
    shift_rows(&j);
}

/* x, out: contiguous N×C×F×T; `lines` = N*C*F lines of T elements of `elem` bytes. */
void shiftlab_shift_contiguous(const void *x, void *out, long lines, long C, long F, long T,
                               long S, long g, long elem, int forward) {
    job_t j = {(const char *)x, (char *)out, lines, T, F, C, S, g, elem, forward};
    shift_lines(&j);
}
"""

# The loop keeps three masks of a row block on its stack: 3 × 4096 × 8 bytes at most.
_MAX_CHANNELS = 4096
_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_unavailable_reason: str | None = None


def _enabled() -> bool:
    return os.environ.get("SHIFTLAB_NATIVE_SHIFT", "1").strip().lower() not in {"0", "false", "no"}


def _cache_dir() -> Path:
    root = os.environ.get("SHIFTLAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "shiftlab"
    )
    return Path(root) / "kernels"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


_FLAGS = ["-O3", "-shared", "-fPIC"]


def _build(target: Path, compiler: str) -> None:
    """Compile the library into ``target``, atomically (parallel test workers may race)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        source = Path(work) / "time_shift.c"
        source.write_text(_SOURCE)
        built = Path(work) / target.name
        subprocess.run(
            [compiler, *_FLAGS, str(source), "-o", str(built)],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        os.replace(built, target)


def _load() -> ctypes.CDLL | None:
    """The compiled library, built on first use; None (with the reason kept) where it cannot be."""
    global _library, _unavailable_reason
    if _library is not None or _unavailable_reason is not None:
        return _library
    with _lock:
        if _library is not None or _unavailable_reason is not None:
            return _library
        compiler = _compiler()
        if compiler is None:
            _unavailable_reason = "no C compiler (cc, gcc or clang) on PATH"
            return None
        digest = hashlib.sha256((_SOURCE + " ".join(_FLAGS) + compiler).encode()).hexdigest()
        target = _cache_dir() / f"time_shift-{digest[:16]}.so"
        try:
            if not target.exists():
                _build(target, compiler)
            library = ctypes.CDLL(str(target))
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            _unavailable_reason = f"building the native shift failed: {detail.strip()[:300]}"
            log.warning("TSConv uses the PyTorch shift: %s", _unavailable_reason)
            return None
        long, ptr, i32 = ctypes.c_long, ctypes.c_void_p, ctypes.c_int
        library.shiftlab_shift_channels_last.argtypes = [ptr, ptr] + [long] * 6 + [i32]
        library.shiftlab_shift_contiguous.argtypes = [ptr, ptr] + [long] * 7 + [i32]
        library.shiftlab_shift_channels_last.restype = None
        library.shiftlab_shift_contiguous.restype = None
        _library = library
        return library


def native_shift_status() -> str:
    """``"native"`` when the compiled shift is in use, otherwise why the PyTorch path is."""
    if not _enabled():
        return "off (SHIFTLAB_NATIVE_SHIFT=0)"
    return "native" if _load() is not None else str(_unavailable_reason)


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
    if channels_last:  # also right where both layouts coincide (F = T = 1)
        library.shiftlab_shift_channels_last(
            x.data_ptr(), out.data_ptr(), n * f, t, c, static, g, elem, int(forward)
        )
    else:
        library.shiftlab_shift_contiguous(
            x.data_ptr(), out.data_ptr(), n * c * f, c, f, t, static, g, elem, int(forward)
        )
    return out
