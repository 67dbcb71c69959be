"""What this machine gives this process: shared by the data loaders' worker count and the
threads of parallel sweep jobs, so neither reaches into the other's room."""

from __future__ import annotations

import os
from pathlib import Path


def available_cores() -> int:
    """Cores this process may run on (a CPU set or container limit, not the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def cache_home() -> Path:
    """Where shiftlab keeps what it builds for this machine and user (compiled kernels,
    decoded data): ``$SHIFTLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/shiftlab``, else
    ``~/.cache/shiftlab``."""
    root = os.environ.get("SHIFTLAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "shiftlab"
    )
    return Path(root)
