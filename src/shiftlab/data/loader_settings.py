"""Data loader settings a user leaves to shiftlab (``num_workers: null``, ``pin_memory: null``),
chosen from the machine so that the input pipeline keeps up with training."""

from __future__ import annotations

import os

import torch

from shiftlab.machine import available_cores

MAX_WORKERS = 8


def loader_workers(requested: int | None) -> int:
    """``requested`` when given; else the worker processes for this machine.

    With a GPU, the main process drives the device and every batch must be ready when it
    asks: one worker per core left to this process (the cores shared among the node's
    training processes, one kept for the process itself), at most 8. On a CPU the training
    step already runs on every core, and one core's pipeline outruns the step (bench/RESULTS.md:
    thousands of images per second per core against tens to a thousand consumed): loading in
    the main process (0 workers) measured the same as a worker, without the worker's start-up.
    """
    if requested is not None:
        return requested
    if not torch.cuda.is_available():
        return 0
    processes = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(0, min(MAX_WORKERS, available_cores() // processes - 1))


def pin_memory(requested: bool | None) -> bool:
    """``requested`` when given; else pinned (page-locked) batches exactly when CUDA is on,
    which makes host-to-GPU copies faster and asynchronous."""
    return torch.cuda.is_available() if requested is None else requested
