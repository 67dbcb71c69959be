"""The benchmarks' own pieces: what they compare must stay what they say they compare."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

import shiftlab

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def bench_modules():
    sys.path.insert(0, str(BENCH))
    try:
        import first_step_plain
        import run_all
        import step_timer

        yield first_step_plain, run_all, step_timer
    finally:
        sys.path.remove(str(BENCH))


def test_the_plain_first_step_script_builds_the_default_experiment(bench_modules):
    plain = bench_modules[0]
    with initialize_config_dir(config_dir=str(shiftlab.config_dir()), version_base="1.3"):
        cfg = compose("train")
    data = cfg.data
    assert cfg.seed == plain.SEED and data.seed == plain.DATA_SEED
    assert {k: data[k] for k in ("freq_bins", "min_frames", "max_frames")} == plain.DATA
    assert data.num_train + data.num_val + data.num_test == plain.PAIRS
    assert data.batch_size == plain.BATCH and cfg.optimizer.lr == plain.LR
    assert list(cfg.model.channels) == plain.CHANNELS
    assert cfg.model._target_.endswith("TSConvUNet") and cfg.optimizer._target_.endswith("Adam")


def test_time_per_step_spans_first_start_to_last_end(bench_modules):
    step_timer = bench_modules[2]
    assert step_timer.seconds_per_step([10.0, 10.5, 11.0, 12.5]) == pytest.approx(2.5 / 3)
    with pytest.raises(ValueError):
        step_timer.seconds_per_step([1.0])


def test_results_keep_the_hand_written_analysis(bench_modules, tmp_path):
    run_all = bench_modules[1]
    out = "progress\n  round 1/3 a: 1\nMachine line\n| a | b |\n|---|---|\n| 1 | 2 |\ntail\n"
    assert run_all.tables(out) == "Machine line\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# R\n\nanalysis above\n{run_all.START}\nold\n{run_all.END}\nbelow\n")
    run_all.write(results, "new tables\n")
    text = results.read_text()
    assert "analysis above" in text and "below" in text and "new tables" in text
    assert "old" not in text


@pytest.mark.parametrize(
    ("trainer", "device", "dtype"),
    [("default", "cpu", None), ("gpu", "cuda", "bfloat16"), ("ddp", "cuda", "bfloat16")],
)
def test_the_hand_written_loop_trains_where_and_as_the_run_does(trainer, device, dtype):
    """On a GPU the hand-written loop moves batches and autocasts as the trainer config says,
    so bench/gpu_check.sh compares like with like."""
    sys.path.insert(0, str(BENCH))
    try:
        import hand_loop
    finally:
        sys.path.remove(str(BENCH))
    with initialize_config_dir(config_dir=str(shiftlab.config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=[f"trainer={trainer}"])
    assert hand_loop.training_device(cfg).type == device
    expected = None if dtype is None else getattr(torch, dtype)
    assert hand_loop.autocast_dtype(cfg) == expected


def test_the_gpu_check_says_plainly_when_there_is_no_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: bench/gpu_check.sh would run in full")
    proc = subprocess.run(["bash", str(BENCH / "gpu_check.sh")], capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable},
                          timeout=120)  # fmt: skip
    assert proc.returncode == 1
    assert "needs a CUDA GPU and found none" in proc.stderr
