"""Micro-batching in ``shiftlab serve``: a lone request goes straight to the model, requests
that queue while it runs share its next call (one call per input shape), a model failure
reaches exactly its callers, and a request that gave up is not run."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from shiftlab.serving.batching import Batcher


class SlowDouble:
    """x ↦ 2x, taking a while, recording every batch it was called with."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds
        self.calls: list[tuple[int, ...]] = []
        self.lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self.lock:
            self.calls.append(batch.shape)
        time.sleep(self.seconds)
        if np.isnan(batch).any():
            raise ValueError("NaN in the input")
        return batch * 2


async def started(model, max_batch: int = 8, wait_ms: float = 0.0) -> Batcher:
    batcher = Batcher(model, max_batch, wait_ms)
    batcher.start()
    return batcher


def test_a_lone_request_runs_at_once_and_queued_ones_share_the_next_call():
    async def scenario():
        model = SlowDouble()
        batcher = await started(model)
        first = asyncio.create_task(batcher(np.full((3,), 1.0)))
        await asyncio.sleep(0.01)  # the first is in the model: these five queue meanwhile
        rest = [asyncio.create_task(batcher(np.full((3,), float(i)))) for i in range(2, 7)]
        outputs = await asyncio.gather(first, *rest)
        await batcher.stop()
        return model, batcher, outputs

    model, batcher, outputs = asyncio.run(scenario())
    assert [o.output.tolist() for o in outputs] == [[2.0 * i] * 3 for i in range(1, 7)]
    assert [o.batch_size for o in outputs] == [1, 5, 5, 5, 5, 5]
    assert all(o.model_s >= 0.05 for o in outputs)
    assert model.calls == [(1, 3), (5, 3)]
    assert batcher.batches == [1, 5]


def test_max_batch_caps_a_call_and_shapes_never_mix():
    async def scenario():
        model = SlowDouble()
        batcher = await started(model, max_batch=3)
        blocker = asyncio.create_task(batcher(np.zeros((2,))))
        await asyncio.sleep(0.01)
        shapes = [(2,), (4,), (2,), (2,), (4,)]
        tasks = [asyncio.create_task(batcher(np.ones(s))) for s in shapes]
        outputs = await asyncio.gather(blocker, *tasks)
        await batcher.stop()
        return model, outputs, shapes

    model, outputs, shapes = asyncio.run(scenario())
    assert [o.output.shape for o in outputs[1:]] == shapes
    assert max(call[0] for call in model.calls) <= 3
    assert all(len(set(call[1:])) == 1 for call in model.calls)
    assert sum(call[0] for call in model.calls) == 6


def test_a_failing_input_fails_its_own_batch_only_and_the_batcher_goes_on():
    async def scenario():
        model = SlowDouble()
        batcher = await started(model)
        busy = asyncio.create_task(batcher(np.ones((2,))))
        await asyncio.sleep(0.01)
        bad = asyncio.create_task(batcher(np.full((2,), np.nan)))
        other_shape = asyncio.create_task(batcher(np.ones((5,))))
        results = await asyncio.gather(busy, bad, other_shape, return_exceptions=True)
        after = await batcher(np.ones((2,)))
        await batcher.stop()
        return results, after

    (busy, bad, other_shape), after = asyncio.run(scenario())
    assert busy.output.tolist() == [2.0, 2.0] and other_shape.output.tolist() == [2.0] * 5
    assert isinstance(bad, ValueError) and "NaN" in str(bad)
    assert after.output.tolist() == [2.0, 2.0]


def test_a_request_that_gave_up_is_not_run():
    async def scenario():
        model = SlowDouble(0.1)
        batcher = await started(model)
        busy = asyncio.create_task(batcher(np.ones((2,))))
        await asyncio.sleep(0.01)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(batcher(np.full((2,), 7.0)), 0.02)
        kept = asyncio.create_task(batcher(np.full((2,), 3.0)))
        results = await asyncio.gather(busy, kept)
        await batcher.stop()
        return model, results

    model, (busy, kept) = asyncio.run(scenario())
    assert busy.output.tolist() == [2.0, 2.0] and kept.output.tolist() == [6.0, 6.0]
    assert model.calls == [(1, 2), (1, 2)]  # the one that timed out never reached the model


def test_a_wait_holds_a_batch_for_company():
    async def scenario():
        model = SlowDouble(0.0)
        batcher = await started(model, wait_ms=100)
        first = asyncio.create_task(batcher(np.ones((2,))))
        await asyncio.sleep(0.02)
        second = asyncio.create_task(batcher(np.ones((2,))))
        await asyncio.gather(first, second)
        await batcher.stop()
        return model

    assert asyncio.run(scenario()).calls == [(2, 2)]
