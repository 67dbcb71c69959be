"""The one format of every run event: ``schema: shiftlab.run-event/1``.

Each event is a JSON object::

    {"schema": "shiftlab.run-event/1", "type": "validation_epoch", "run_id": "...",
     "sequence": 3, "time": "2026-12-01T10:34:50.123456Z", ...payload}

``type`` is one of :data:`EVENT_TYPES`; ``sequence`` counts a run's events from 0, so a
consumer can tell a gap; the message key is the run id, so a partitioned topic keeps each
run's events in order. Payloads by type:

- ``run_started``: ``task_name``, ``run_dir``, ``choices`` (option per config group),
  ``overrides`` (as typed), ``host``, ``sweep`` (``{"dir", "job"}`` in a multirun, else null),
  ``monitor`` (``{"name", "mode"}``: the metric checkpoints and sweeps rank by)
- ``validation_epoch``: ``epoch``, ``global_step``, ``metrics`` (name → number)
- ``checkpoint_written``: ``epoch``, ``path``, ``monitor``, ``score``
- ``run_completed``: ``status`` (completed or pruned), ``metrics`` (final and best),
  ``best_checkpoint``, ``wall_time_s``
- ``run_failed``: ``error`` (the one-paragraph message), ``error_type``
- ``sweep_started`` / ``sweep_completed``: ``sweep_dir``, ``jobs``; the latter also ``best``
  (the sweep report's best row)

New fields may be added within version 1; a change that removes or renames one is version 2.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

SCHEMA = "shiftlab.run-event/1"
EVENT_TYPES = (
    "run_started",
    "validation_epoch",
    "checkpoint_written",
    "run_completed",
    "run_failed",
    "sweep_started",
    "sweep_completed",
)


def event(kind: str, run_id: str, sequence: int, **payload: Any) -> dict[str, Any]:
    """One event of ``kind`` (see the module's docstring for each payload)."""
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown run event type {kind!r}; one of {', '.join(EVENT_TYPES)}")
    now = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return {"schema": SCHEMA, "type": kind, "run_id": run_id, "sequence": sequence,
            "time": now, **payload}  # fmt: skip
