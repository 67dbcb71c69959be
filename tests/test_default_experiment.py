"""The default experiment, exactly as the README's quick start runs it, learns the task."""

from __future__ import annotations

import json

import pytest

from tests.conftest import only_run_dir, run_shiftlab


@pytest.mark.slow
def test_default_experiment_beats_the_identity_baseline(workdir):
    run_shiftlab("train", cwd=workdir, timeout=900)
    summary = json.loads((only_run_dir(workdir / "outputs") / "metrics.json").read_text())
    metrics = summary["metrics"]
    # The degraded input is ~21 dB from the clean target; the TSConv U-Net must close a
    # large part of that gap (measured here: about 12.6 dB after the default 20 epochs).
    assert metrics["val/lsd_best"] < metrics["val/lsd_baseline"] - 5.0
    assert metrics["test/lsd"] < metrics["test/lsd_baseline"] - 5.0
    assert metrics["test/mse"] < 0.6 * metrics["test/mse_baseline"]
