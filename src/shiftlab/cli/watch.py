"""``shiftlab watch events=kafka|pubsub ...``: a live table of the runs and sweep jobs that
publish run events, for a terminal next to a cluster.

In a terminal the table is redrawn in place every ``watch.refresh_s``; piped into a file or
another program, each change is a line (``run 1a2b3c4d: epoch 3 val/loss=0.41``) and the
table comes once at the end. Ctrl-C or SIGTERM stops it; the table is printed then. Imports
no torch: it runs on a login node with nothing but shiftlab's light dependencies.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from shiftlab.cli.errors import reported
from shiftlab.config.location import config_dir

log = logging.getLogger("shiftlab.watch")

CLEAR = "\x1b[H\x1b[2J"


@hydra.main(config_path=str(config_dir()), config_name="watch", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from shiftlab.events.board import Board
    from shiftlab.events.reading import open_reader

    settings = cfg.watch
    with reported(log):
        chosen = cfg.get("events")
        events_node: Any = OmegaConf.to_container(chosen, resolve=True) if chosen else {}
        reader = open_reader(events_node, subscription=settings.subscription,
                             from_start=bool(settings.from_start))  # fmt: skip
    board = Board()
    terminal = sys.stdout.isatty()
    stop_after = settings.stop_after_s
    deadline = None if stop_after is None else time.monotonic() + float(stop_after)
    refresh = max(0.1, float(settings.refresh_s))
    limit = int(settings.runs) if settings.runs else None
    print(f"Watching {reader.description}. Ctrl-C stops.", flush=True)
    # Ctrl-C and SIGTERM set a flag that the loop reads after each poll. A KeyboardInterrupt
    # raised wherever the signal lands can land in a callback the bus client runs from C (its
    # error callback, a gRPC thread), which swallows it, and the watcher would go on.
    stopping: list[int] = []
    previous = {
        number: signal.signal(number, lambda number, frame: stopping.append(number))
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    drawn_at = 0.0
    changed = False
    try:
        while not stopping and (deadline is None or time.monotonic() < deadline):
            for event in reader.poll(refresh):
                line = board.add(event)
                changed = changed or line is not None
                if line is not None and not terminal:
                    print(line, flush=True)
            if terminal and changed and time.monotonic() - drawn_at >= refresh:
                print(CLEAR + board.table(limit), flush=True)
                drawn_at, changed = time.monotonic(), False
    except KeyboardInterrupt:
        pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        reader.close()
    if terminal:
        print(CLEAR, end="")
    print(board.table(limit) if board.runs or board.sweeps else "No run events seen.",
          flush=True)  # fmt: skip
