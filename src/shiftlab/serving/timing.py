"""Where a request's time went, sent back in the standard ``Server-Timing`` header.

Browsers' developer tools chart it, and a client (or ``bench/serve.py``) can tell the
service's own overhead from the model call without any access to the server:
``read`` (decoding and preparing the upload), ``queue`` (waiting for the model, which may be
busy with other requests), ``model`` (the model call; its batch size in ``desc``) and
``answer`` (encoding the answer), in milliseconds, summed over a request's files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Timing:
    """Seconds per stage of one request."""

    stages: dict[str, float] = field(
        default_factory=lambda: {"read": 0.0, "queue": 0.0, "model": 0.0, "answer": 0.0}
    )
    batch_sizes: list[int] = field(default_factory=list)
    _mark: float = field(default_factory=time.perf_counter)

    def lap(self, stage: str) -> None:
        """The time since the last lap goes to ``stage``."""
        now = time.perf_counter()
        self.stages[stage] += now - self._mark
        self._mark = now

    def model_call(self, waited_s: float, model_s: float, batch_size: int) -> None:
        """Time spent in the batcher: the model call itself, and the wait before it."""
        self.stages["queue"] += max(0.0, waited_s - model_s)
        self.stages["model"] += model_s
        self.batch_sizes.append(batch_size)
        self._mark = time.perf_counter()

    def header(self) -> str:
        """The ``Server-Timing`` value, in milliseconds:
        ``read;dur=0.38, queue;dur=0.02, model;dur=4.9;desc="batch 1", answer;dur=0.3``."""
        parts = []
        for stage, seconds in self.stages.items():
            part = f"{stage};dur={1e3 * seconds:.3f}"
            if stage == "model" and self.batch_sizes:
                part += f';desc="batch {"+".join(map(str, self.batch_sizes))}"'
            parts.append(part)
        return ", ".join(parts)
