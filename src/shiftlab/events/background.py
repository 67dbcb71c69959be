"""Publishing off the training thread: events wait in a bounded queue and one background
thread hands them to the bus's client. Training never waits: a full queue or a bus that is
down or slow drops events, with one warning and a count at the end."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
from typing import Any, Protocol

log = logging.getLogger("shiftlab.events")

_STOP = object()


class Transport(Protocol):
    """What a bus's client does for :class:`BackgroundPublisher`."""

    name: str

    def send(self, key: str, value: bytes) -> None:
        """Hand one message to the client (which may send it later); raise if it refuses."""

    def close(self, timeout_s: float) -> int:
        """Deliver what is pending within ``timeout_s``; the number of messages not delivered."""


class BackgroundPublisher:
    """Publishes events through ``transport`` from a daemon thread.

    Args:
        transport: the bus's client.
        max_queued: events held at most while the thread catches up; more are dropped.
        close_timeout_s: how long :meth:`close` waits for pending events at the end of a run.
    """

    def __init__(
        self, transport: Transport, max_queued: int = 10_000, close_timeout_s: float = 10.0
    ) -> None:
        self.transport = transport
        self.close_timeout_s = close_timeout_s
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=max_queued)
        self.dropped = 0
        self.published = 0
        self._warned = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name=f"shiftlab-events-{transport.name}", daemon=True
        )
        self._thread.start()

    def publish(self, event: dict[str, Any]) -> None:
        """Queue ``event`` (keyed by its run id); never blocks."""
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self._drop(1, "the queue of events is full (the bus is slow or down)")

    def close(self) -> int:
        """Send what is queued (within the close timeout), stop the thread; events dropped."""
        with contextlib.suppress(queue.Full):
            self.queue.put(_STOP, timeout=self.close_timeout_s)
        self._thread.join(self.close_timeout_s)
        left = self.queue.qsize()
        if left:
            self._drop(left, "the run ended before they could be sent")
        undelivered = self.transport.close(self.close_timeout_s)
        if undelivered:
            self._drop(undelivered, "the bus did not confirm them in time")
        return self.dropped

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                return
            try:
                self.transport.send(item["run_id"], json.dumps(item, default=str).encode())
                self.published += 1
            except Exception as err:  # a bus that refuses costs this event, never the run
                self._drop(1, f"{type(err).__name__}: {err}")

    def _drop(self, count: int, why: str) -> None:
        with self._lock:
            self.dropped += count
            if not self._warned:
                self._warned = True
                log.warning("Run events to %s are being dropped (%s); training goes on.",
                            self.transport.name, why)  # fmt: skip
