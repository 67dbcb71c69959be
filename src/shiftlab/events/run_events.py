"""One run's events: numbered, stamped and handed to every chosen bus."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from shiftlab.events.background import BackgroundPublisher
from shiftlab.events.schema import event

log = logging.getLogger("shiftlab.events")


class RunEvents:
    """The events of one run (``run_id``), published to ``publishers`` (none: a no-op)."""

    def __init__(self, publishers: list[BackgroundPublisher], run_id: str | None = None) -> None:
        self.publishers = publishers
        self.run_id = run_id or uuid.uuid4().hex
        self.sequence = 0
        self.closed = False

    def emit(self, kind: str, **payload: Any) -> None:
        """Publish one event of ``kind`` (:mod:`shiftlab.events.schema`)."""
        if not self.publishers or self.closed:
            return
        message = event(kind, self.run_id, self.sequence, **payload)
        self.sequence += 1
        for publisher in self.publishers:
            publisher.publish(message)

    def close(self) -> int:
        """Send what is pending, stop the publishers' threads; the events dropped (said in
        the log when any were)."""
        if self.closed:
            return 0
        self.closed = True
        dropped = 0
        for publisher in self.publishers:
            lost = publisher.close()
            dropped += lost
            if lost:
                log.warning("%d of %d run events to %s were dropped.", lost,
                            self.sequence, publisher.transport.name)  # fmt: skip
        return dropped
