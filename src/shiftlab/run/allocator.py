"""Keep freed memory in the process instead of handing it back to the system.

glibc serves every allocation of 128 kB or more (a batch, an activation, a gradient of a CPU
training step) with fresh pages from the system and unmaps them when freed; its adaptive
threshold only partly learns. Each new tensor then costs a page fault per 4 kB the first time
it is written, which on the machine measured in bench/RESULTS.md (3 and 4) cost more than the
arithmetic: the TSConv shift (forward and backward) at 32 channels took 55.6 ms instead of
15.8, the 3×3 convolution 117.5 ms instead of 80.9, and the classification pipeline with
normalisation ran at 1,941 images/s instead of 4,091. Raising glibc's mmap and trim
thresholds (``mallopt``, what the ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``
variables do at start-up) makes it reuse freed blocks, as jemalloc and tcmalloc do by design;
the price is that the process keeps its peak memory until it ends, which a training run does
anyway.

Set at the start of a run (``keep_freed_memory: true`` in train and eval, the default);
``false`` leaves the allocator as the system set it. Elsewhere than glibc (macOS, musl) it
does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
KEEP_UP_TO = 1 << 30  # blocks below 1 GiB come from (and return to) the heap


def keep_freed_memory(enabled: bool = True) -> bool:
    """Tell glibc to keep freed blocks below 1 GiB for reuse; whether it took effect."""
    if not enabled or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    kept = mallopt(M_MMAP_THRESHOLD, KEEP_UP_TO) == 1 and mallopt(M_TRIM_THRESHOLD, KEEP_UP_TO) == 1
    if kept:
        log.debug("glibc keeps freed blocks below %d bytes for reuse", KEEP_UP_TO)
    return kept
