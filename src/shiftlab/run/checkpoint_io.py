"""Checkpoint files that are whole or absent, never half written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write a checkpoint to a temporary file beside it, flush it to disk, then rename it.

    A rename within one folder is atomic, so a run killed while saving (SIGKILL, a node
    preempted, a full disk) leaves the previous ``last.ckpt`` intact instead of a truncated
    file that cannot be resumed from. Lightning's own save goes through a temporary file in
    the system's temp folder and a move, which is a copy (not atomic) when that folder is on
    another file system, and is not flushed.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(
                "AtomicCheckpointIO writes local files and takes no storage_options; remove "
                "trainer.plugins to save to remote storage with Lightning's own writer."
            )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            with open(partial, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
