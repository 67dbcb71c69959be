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
