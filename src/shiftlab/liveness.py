"""Whether a run without a result is still running or was killed: a run keeps
``.running.json`` (its process id and host) in its directory while it runs and removes it
when it ends, however it ends; a killed process cannot, so a marker whose process is gone
on this host means killed."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

MARKER = ".running.json"

RUNNING = "running"
KILLED = "killed"
UNFINISHED = "unfinished"  # no marker, or one from another host: cannot tell from here


@contextlib.contextmanager
def marked_running(run_dir: Path) -> Iterator[None]:
    """Keep the marker in ``run_dir`` for the duration of the block."""
    marker = Path(run_dir) / MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "started": time.time()}))  # fmt: skip
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            marker.unlink()


def liveness(run_dir: Path) -> str:
    """:data:`RUNNING`, :data:`KILLED` or :data:`UNFINISHED` for a run with no result yet."""
    try:
        record = json.loads((Path(run_dir) / MARKER).read_text())
    except (OSError, ValueError):
        return UNFINISHED
    if record.get("host") != socket.gethostname():
        return UNFINISHED
    try:
        os.kill(int(record["pid"]), 0)
    except ProcessLookupError:
        return KILLED
    except (PermissionError, KeyError, ValueError, TypeError):
        return RUNNING if isinstance(record.get("pid"), int) else UNFINISHED
    return RUNNING
