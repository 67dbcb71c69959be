"""Expensive test material (trained models, a finished sweep) made once per test session and
shared by every pytest-xdist worker.

A module-scoped fixture runs once per worker that runs one of the module's tests; with work
stealing that is often every worker, so two cores each trained the same models. The workers
of one session share the parent of their temporary folders: the first worker to need a folder
makes it there under a file lock (the pattern pytest-xdist's documentation gives), the others
wait for it and read it. Whatever is made there is read-only to the tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def made_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]
) -> Path:
    """The folder ``name`` after ``make(folder)`` has filled it, once in this session."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, done = shared / name, shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            if folder.exists():  # a worker that failed halfway: start again
                shutil.rmtree(folder)
            folder.mkdir()
            make(folder)
            done.touch()
    return folder
