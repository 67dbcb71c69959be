"""Micro-batching: requests that arrive together go through the model together.

While the model runs (in a worker thread, so the event loop keeps accepting requests), new
requests queue; the next call takes all of them, up to ``max_batch``, so a lone request
waits for nothing and a loaded service batches by itself. ``wait_ms`` > 0 also holds a batch
that long for more company. One model call at a time: on a CPU, two at once would only share
the cores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Model = Callable[[np.ndarray], np.ndarray]


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

    async def __call__(self, x: np.ndarray) -> np.ndarray:
        """The model's output for one input (without the batch axis)."""
        assert self.queue is not None, "start() the batcher inside the running event loop"
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(_Pending(x, future))
        return await future

    async def run_alone(self, batch: np.ndarray) -> np.ndarray:
        """A stack of inputs of one file (chunks of a long recording), in one model call."""
        async with self.lock:
            return await asyncio.to_thread(self.model, batch)

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
        """Run each group of inputs of one shape as one batch; a failure goes to its callers."""
        groups: dict[tuple, list[_Pending]] = {}
        for item in batch:
            if item.future.done():  # its request gave up (server.request_timeout_s)
                continue
            groups.setdefault(item.x.shape, []).append(item)
        for items in groups.values():
            try:
                async with self.lock:
                    out = await asyncio.to_thread(self.model, np.stack([i.x for i in items]))
                self.batches.append(len(items))
            except Exception as err:  # the callers answer with it; the service goes on
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(err)
                continue
            for item, result in zip(items, out, strict=True):
                if not item.future.done():
                    item.future.set_result(result)
