"""What this machine gives this process: shared by the data loaders' worker count and the
threads of parallel sweep jobs, so neither reaches into the other's room."""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (a CPU set or container limit, not the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
