"""`shiftlab runs`: past, failed, running and killed runs listed with the right status,
filtered and as CSV, from the files of their directories."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import time

from tests.conftest import run_shiftlab, shiftlab_executable
from tests.test_segmentation_cli import SMALL_SHAPES


def test_runs_lists_completed_failed_running_and_killed_runs(workdir):
    run_shiftlab("train", "experiment=segmentation_shapes", *SMALL_SHAPES,
                 "trainer.max_epochs=1", "task_name=done", cwd=workdir)  # fmt: skip
    failed = run_shiftlab("train", "experiment=segmentation_shapes", *SMALL_SHAPES,
                          "task_name=broken", "data.batch_size=0", cwd=workdir,
                          check=False)  # fmt: skip
    assert failed.returncode == 1
    slow = subprocess.Popen(
        [*shiftlab_executable(), "train", "experiment=segmentation_shapes", *SMALL_SHAPES,
         "trainer.max_epochs=500", "task_name=slow"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.time() + 120
        while not list(workdir.glob("outputs/slow/runs/*/.running.json")):
            assert time.time() < deadline and slow.poll() is None, "the run did not start"
            time.sleep(0.2)
        running = run_shiftlab("runs", "--csv", cwd=workdir).stdout
    finally:
        slow.send_signal(signal.SIGKILL)  # as the OOM killer or a cancelled job would
        slow.wait(timeout=30)
    rows = {r["task_name"]: r for r in csv.DictReader(io.StringIO(running))}
    assert rows["slow"]["status"] == "running"

    table = run_shiftlab("runs", cwd=workdir).stdout
    lines = {line.split()[2]: line for line in table.splitlines()[1:]}  # by task name
    assert set(lines) == {"done", "broken", "slow"}
    assert " killed " in lines["slow"] and " completed " in lines["done"]
    assert " failed: data.batch_size" in lines["broken"]  # the first words of its error
    assert table.splitlines()[1].split()[2] == "slow"  # newest first

    listed = run_shiftlab("runs", "outputs", "--csv", cwd=workdir).stdout
    rows = {r["task_name"]: r for r in csv.DictReader(io.StringIO(listed))}
    done = rows["done"]
    (summary,) = workdir.glob("outputs/done/runs/*/metrics.json")
    metrics = json.loads(summary.read_text())["metrics"]
    assert done["status"] == "completed" and done["epochs"] == "1"
    assert done["monitor"] == "val/iou (max)"
    assert float(done["best"]) == float(f"{metrics['val/iou_best']:.4g}")
    assert "trainer.max_epochs=1" in done["options"] and "task_name=done" in done["options"]
    assert done["run_dir"] == str(summary.parent.relative_to(workdir / "outputs"))

    only_failed = run_shiftlab("runs", "--status", "failed", "--csv", cwd=workdir).stdout
    assert [r["task_name"] for r in csv.DictReader(io.StringIO(only_failed))] == ["broken"]
    threshold = f"val/iou>={metrics['val/iou_best'] - 1e-6}"
    good = run_shiftlab("runs", "--where", threshold, "--csv", cwd=workdir).stdout
    assert [r["task_name"] for r in csv.DictReader(io.StringIO(good))] == ["done"]
    none = run_shiftlab("runs", "task_name=nothing", cwd=workdir).stdout
    assert "No runs under outputs match." in none


def test_runs_explains_a_bad_threshold_and_a_missing_folder(workdir):
    proc = run_shiftlab("runs", "--where", "iou is high", cwd=workdir, check=False)
    assert proc.returncode == 1 and "not a metric threshold" in proc.stderr + proc.stdout
    proc = run_shiftlab("runs", "no/such/dir", cwd=workdir, check=False)
    assert proc.returncode == 1 and "No runs directory at no/such/dir" in proc.stderr + proc.stdout
