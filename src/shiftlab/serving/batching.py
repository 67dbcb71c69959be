"""Micro-batching: requests that arrive together go through the model together.

While the model runs (in a worker thread, so the event loop keeps accepting requests), new
requests queue; the next call takes all of them, up to ``max_batch``, so a lone request
waits for nothing and a loaded service batches by itself. ``wait_ms`` > 0 also holds a batch
that long for more company. One model call at a time: on a CPU, two at once would only share
the cores.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Model = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Ran:
    """One input's output, and the model call it went through (for ``Server-Timing``)."""

    output: np.ndarray
    model_s: float  # how long that call took (its whole batch's)
    batch_size: int


def _timed(model: Model, batch: np.ndarray) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    out = model(batch)
    return out, time.perf_counter() - started


@dataclass
class _Pending:
    x: np.ndarray
    future: asyncio.Future = field(repr=False)


class Batcher:
    """Collects single inputs into batches for ``model``.

    Args:
        model: numpy batch in, numpy batch out.
        max_batch: inputs per model call at most.
        wait_ms: how long a batch that is not full waits for more (0: not at all).
    """

    def __init__(self, model: Model, max_batch: int = 8, wait_ms: float = 0.0) -> None:
        self.model = model
        self.max_batch = max(1, int(max_batch))
        self.wait = max(0.0, float(wait_ms)) / 1000.0
        self.queue: asyncio.Queue[_Pending] | None = None
        self.worker: asyncio.Task | None = None
        self.lock = asyncio.Lock()
        self.batches: list[int] = []  # sizes of the batches run (for tests and logs)

    def start(self) -> None:
        self.queue = asyncio.Queue()
        self.worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    async def __call__(self, x: np.ndarray) -> Ran:
        """The model's output for one input (without the batch axis)."""
        assert self.queue is not None, "start() the batcher inside the running event loop"
        if self.wait == 0 and self.queue.empty() and not self.lock.locked():
            # nothing running or waiting: straight to the model, without the queue's hops
            # (requests that come meanwhile queue, and go together once this call ends)
            async with self.lock:
                out, seconds = await asyncio.to_thread(_timed, self.model, x[None])
            self.batches.append(1)
            return Ran(out[0], seconds, 1)
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(_Pending(x, future))
        return await future

    async def run_alone(self, batch: np.ndarray) -> Ran:
        """A stack of inputs of one file (chunks of a long recording), in one model call."""
        async with self.lock:
            out, seconds = await asyncio.to_thread(_timed, self.model, batch)
        return Ran(out, seconds, len(batch))

    async def _run(self) -> None:
        assert self.queue is not None
        while True:
            first = await self.queue.get()
            batch = [first]
            # what arrived while the model was busy joins at once; then, if a wait is set,
            # the batch waits that long at most for more
            while len(batch) < self.max_batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            deadline = asyncio.get_running_loop().time() + self.wait
            while len(batch) < self.max_batch and self.wait > 0:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), remaining)
                except TimeoutError:
                    break
                batch.append(item)
            await self._call(batch)

    async def _call(self, batch: list[_Pending]) -> None:
        """Run each group of inputs of one shape as one batch; a failure goes to its callers.
        Requests that gave up while waiting for the model (server.request_timeout_s) are
        left out."""
        async with self.lock:
            groups: dict[tuple, list[_Pending]] = {}
            for item in batch:
                if not item.future.done():
                    groups.setdefault(item.x.shape, []).append(item)
            for items in groups.values():
                try:
                    batch = np.stack([i.x for i in items])
                    out, seconds = await asyncio.to_thread(_timed, self.model, batch)
                    self.batches.append(len(items))
                except Exception as err:  # the callers answer with it; the service goes on
                    for item in items:
                        if not item.future.done():
                            item.future.set_exception(err)
                    continue
                for item, result in zip(items, out, strict=True):
                    if not item.future.done():
                        item.future.set_result(Ran(result, seconds, len(items)))
