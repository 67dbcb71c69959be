"""A Lightning callback for ``bench/events.py``: Kafka run events switched on and off in
alternating blocks of training steps within one run, every step timed.

Each "on" block opens what ``events=kafka`` opens (a confluent-kafka producer with its
librdkafka threads, shiftlab's background publisher thread), sends ``run_started`` and one
``validation_epoch`` event in the middle of the block (a real run sends one per epoch: this
is busier), and closes it all at the block's end. Steps of adjacent blocks ran seconds
apart, so a slow spell of a shared machine hits both alike; the first steps of each block
(where the switch happens) are left out of both.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lightning.pytorch.callbacks import Callback

from shiftlab.events.kafka import kafka_events
from shiftlab.events.run_events import RunEvents


class AlternatingEvents(Callback):
    def __init__(self, path: str, bootstrap_servers: str, topic: str, block: int = 20,
                 settle: int = 2) -> None:  # fmt: skip
        self.path = Path(path)
        self.kafka = {"bootstrap_servers": bootstrap_servers, "topic": topic}
        self.block, self.settle = block, settle
        self.events: RunEvents | None = None
        self.steps: list[dict] = []
        self.step = 0
        self.last_end: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        position = self.step % self.block
        if position == 0:
            if self.events is not None:
                self.events.close()
                self.events = None
            elif self.step // self.block % 2 == 1:  # odd blocks: events on
                self.events = RunEvents([kafka_events(**self.kafka, delivery_timeout_s=10)])
                self.events.emit("run_started", task_name="bench", sweep=None)
        if self.events is not None and position == self.block // 2:
            self.events.emit("validation_epoch", epoch=self.step, global_step=self.step,
                             metrics={"val/loss": 0.5, "val/iou": 0.7})  # fmt: skip

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        end = time.perf_counter()
        position = self.step % self.block
        if self.last_end is not None and position >= self.settle and batch_idx > 0:
            self.steps.append({"block": self.step // self.block, "events": self.events is not None,
                               "seconds": end - self.last_end})  # fmt: skip
        self.last_end = end
        self.step += 1

    def on_validation_start(self, trainer, pl_module) -> None:
        self.last_end = None  # validation is not a training step

    def on_train_end(self, trainer, pl_module) -> None:
        if self.events is not None:
            self.events.close()
        self.path.write_text(json.dumps(self.steps))


def thread_cpu_seconds(publisher_ids: frozenset[int] = frozenset()) -> dict[str, float]:
    """CPU seconds (user + system) of each live thread of this process, by thread name
    (librdkafka names its threads ``rdk:...``); the threads whose native ids are
    ``publisher_ids`` (shiftlab's publishers: Python leaves their OS name "python") count as
    ``shiftlab-events``."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    seconds: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            if int(task.name) in publisher_ids:
                name = "shiftlab-events"
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        seconds[name] = seconds.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return seconds


class EventsCpuShare(Callback):
    """In a run with ``events=kafka``: the CPU time the events' threads (librdkafka's and
    shiftlab's publisher) and the ``emit`` calls on the training thread took during the fit,
    as a share of the process's CPU time. On a machine whose cores training keeps busy,
    that share bounds what events can cost the steps, without the noise of comparing runs."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.emit_seconds = 0.0
        self.emits = 0

    def on_fit_start(self, trainer, pl_module) -> None:
        import resource

        from shiftlab.events.callback import RunEventsCallback

        (events_callback,) = [c for c in trainer.callbacks if isinstance(c, RunEventsCallback)]
        events, emit = events_callback.events, events_callback.events.emit

        def timed_emit(kind: str, **payload) -> None:
            start = time.perf_counter()
            emit(kind, **payload)
            self.emit_seconds += time.perf_counter() - start
            self.emits += 1

        events.emit = timed_emit
        self.publisher_ids = frozenset(p._thread.native_id for p in events.publishers)
        self.threads_before = thread_cpu_seconds(self.publisher_ids)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.process_before = usage.ru_utime + usage.ru_stime
        self.wall_before = time.perf_counter()

    def on_fit_end(self, trainer, pl_module) -> None:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        process = usage.ru_utime + usage.ru_stime - self.process_before
        after = thread_cpu_seconds(self.publisher_ids)
        events_threads = sum(seconds - self.threads_before.get(name, 0.0)
                             for name, seconds in after.items()
                             if name.startswith(("rdk:", "shiftlab-events")))  # fmt: skip
        self.path.write_text(json.dumps({
            "process_cpu_s": process, "events_threads_cpu_s": events_threads,
            "emit_s": self.emit_seconds, "emits": self.emits,
            "wall_s": time.perf_counter() - self.wall_before,
        }))  # fmt: skip
