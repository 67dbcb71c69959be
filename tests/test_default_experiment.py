"""The default experiment, as the README's quick start runs it, learns the task.

The suite runs its first 6 of 20 epochs (everything else as `make train` has it), enough to
show learning within the suite's time; the full run's figures are in the README's Results.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import only_run_dir, shiftlab_executable


@pytest.mark.slow
def test_default_experiment_beats_the_identity_baseline(workdir):
    # stdout to a file, as under nohup, CI or SLURM: a line per epoch, not progress redraws
    log_path = workdir / "train.out"
    with log_path.open("w") as out:
        subprocess.run([*shiftlab_executable(), "train", "trainer.max_epochs=6"], cwd=workdir,
                       stdout=out, stderr=subprocess.STDOUT, timeout=900, check=True,
                       env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    output = log_path.read_text()
    for banned in ("litlogger", "💡", "TPU available", "GPU available", "it/s]", "\r"):
        assert banned not in output, banned
    epochs = [line for line in output.splitlines() if "shiftlab.progress" in line]
    assert len(epochs) == 6
    for number, line in enumerate(epochs):
        assert f"epoch {number}/6: 32 steps in " in line and "train/loss " in line
        assert "val/lsd " in line and ", min)" in line  # the monitored metric, best so far
    assert "Device: cpu" in output
    assert len(output.splitlines()) < 60 and len(output) < 8000, output  # a few per epoch
    summary = json.loads((only_run_dir(workdir / "outputs") / "metrics.json").read_text())
    metrics = summary["metrics"]
    assert summary["epochs"] == 6
    # The degraded input is ~21 dB from the clean target. Measured here after 6 epochs:
    # test LSD 18.6 dB (2.2 dB closer), MSE 0.75x the input's; after the default 20: 12.6 dB.
    assert metrics["val/lsd_best"] < metrics["val/lsd_baseline"] - 1.5
    assert metrics["test/lsd"] < metrics["test/lsd_baseline"] - 1.5
    assert metrics["test/mse"] < 0.85 * metrics["test/mse_baseline"]
