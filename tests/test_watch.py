"""`shiftlab watch`: the table it folds from run events, and the command itself (the live
runs on a real broker and on the Pub/Sub emulator are in test_events_cli.py)."""

from __future__ import annotations

import socket
import subprocess
import sys

from shiftlab.events.board import Board
from shiftlab.events.schema import event
from tests.conftest import run_shiftlab


def started(run_id: str, sequence: int = 0, job: int | None = None) -> dict:
    sweep = {"dir": "/runs/multiruns/2026-12-01_10-00-00", "job": job} if job is not None else None
    return event("run_started", run_id, sequence, task_name="shapes", host="node7", sweep=sweep,
                 monitor={"name": "val/iou", "mode": "max"})  # fmt: skip


def epoch(run_id: str, sequence: int, number: int, iou: float) -> dict:
    return event("validation_epoch", run_id, sequence, epoch=number, global_step=10 * number,
                 metrics={"val/iou": iou, "val/loss": 1 - iou})  # fmt: skip


def row_of(table: str, run_id: str) -> list[str]:
    return next(line for line in table.splitlines() if line.startswith(run_id[:8])).split()


def test_the_board_shows_status_epoch_latest_and_best_of_the_monitored_metric():
    board = Board()
    lines = [board.add(e) for e in (
        started("a" * 32, job=0), epoch("a" * 32, 1, 0, 0.5), epoch("a" * 32, 2, 1, 0.4),
        event("run_completed", "a" * 32, 3, status="completed", metrics={}, wall_time_s=12.0),
        started("b" * 32, job=1), epoch("b" * 32, 1, 0, 0.3),
        event("run_failed", "b" * 32, 2, error="data.root=/x does not exist: ...",
              error_type="ConfigError"),
        event("sweep_completed", "c" * 32, 0, sweep_dir="/runs/multiruns/2026-12-01_10-00-00",
              jobs=2, statuses={"completed": 1, "failed": 1},
              best={"val/iou": {"job": 0, "objective": 0.5}}),
    )]  # fmt: skip
    assert lines[0] == f"run {'a' * 8} (shapes, sweep job 2026-12-01_10-00-00 #0) started on node7"
    assert lines[2] == f"run {'a' * 8}: epoch 1 val/iou=0.4"
    assert lines[3] == f"run {'a' * 8}: completed (12 s)"
    assert lines[6].startswith(f"run {'b' * 8}: failed: data.root=/x does not exist")
    table = board.table()
    assert row_of(table, "a" * 32) == ["aaaaaaaa", "shapes", "2026-12-01_10-00-00", "#0",
                                       "completed", "1", "val/iou", "0.4", "0.5",
                                       row_of(table, "a" * 32)[-1]]  # fmt: skip
    assert row_of(table, "b" * 32)[4] == "failed"
    assert (
        "sweep /runs/multiruns/2026-12-01_10-00-00: completed, 2 jobs (1 completed, "
        "1 failed), best val/iou=0.5 (job 0)"
    ) in table


def test_the_board_says_when_events_went_missing_and_keeps_the_newest_runs():
    board = Board()
    for number in range(5):
        run_id = f"{number:08d}" + "f" * 24
        board.add(started(run_id))
        board.add(
            event("run_completed", run_id, 3, status="completed", metrics={}, wall_time_s=1.0)
        )  # fmt: skip  (events 1 and 2 never arrived)
    table = board.table(limit=3)
    assert "completed (2 missed)" in table
    assert "00000004" in table and "00000001" not in table
    assert "(and 2 older runs)" in table


def test_watch_without_a_bus_says_how_to_choose_one(workdir):
    proc = run_shiftlab("watch", cwd=workdir, check=False)
    assert proc.returncode == 1
    assert "give events=kafka or events=pubsub" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_watch_runs_without_torch_and_ends_when_told(workdir):
    with socket.socket() as s:  # a port nothing listens on: the watcher waits, says so once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "shiftlab", "watch", "events=kafka",
         f"events.kafka.bootstrap_servers=127.0.0.1:{port}", "watch.stop_after_s=2"],
        cwd=workdir, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f"Watching Kafka topic shiftlab-runs at 127.0.0.1:{port}.")
    assert proc.stdout.rstrip().endswith("No run events seen.")
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert not sorted(m for m in imported if m.split(".")[0] in {"torch", "lightning"})
