"""Multirun sweeps through the CLI as a user types them: grid, failures, Optuna, submitit,
the report at the end of a sweep and `shiftlab report` on an interrupted one."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    CONF,
    TINY,
    hparams_view,
    only_run_dir,
    run_shiftlab,
    shiftlab_executable,
)
from tests.test_segmentation_cli import SMALL_SHAPES

ONE_EPOCH = [*TINY, "trainer.max_epochs=1"]


def only_sweep_dir(workdir: Path) -> Path:
    sweeps = [p for p in workdir.glob("outputs/*/multiruns/*") if p.is_dir()]
    assert len(sweeps) == 1, sweeps
    return sweeps[0]


def read_report(sweep: Path) -> list[dict[str, str]]:
    with (sweep / "report.csv").open() as f:
        return list(csv.DictReader(f))


def test_a_grid_of_four_jobs_ends_in_one_report(workdir):
    proc = run_shiftlab(
        "train",
        "-m",
        "model=tsconv_unet,conv_unet",
        "optimizer=adam,sgd",
        *ONE_EPOCH,
        cwd=workdir,
    )
    sweep = only_sweep_dir(workdir)
    rows = read_report(sweep)
    assert [r["job"] for r in rows] == ["0", "1", "2", "3"]
    assert {(r["model"], r["optimizer"]) for r in rows} == {
        (m, o) for m in ("tsconv_unet", "conv_unet") for o in ("adam", "sgd")
    }
    assert all(r["status"] == "completed" and r["monitor"] == "val/lsd" for r in rows)
    assert all(float(r["objective"]) > 0 and float(r["test/lsd"]) > 0 for r in rows)
    assert all((workdir / r["best_checkpoint"]).is_file() for r in rows)
    assert all(float(r["wall_time_s"]) > 0 and r["epochs"] == "1" for r in rows)

    # the best job is the one with the lowest val/lsd (its mode is min), marked once
    best = [r for r in rows if r["best"] == "True"]
    assert len(best) == 1
    assert float(best[0]["objective"]) == min(float(r["objective"]) for r in rows)

    markdown = (sweep / "report.md").read_text()
    assert "4 jobs: 4 completed" in markdown
    assert f"| {best[0]['job']} ★ | completed | {best[0]['model']} |" in markdown
    rerun = f"shiftlab train model={best[0]['model']} optimizer={best[0]['optimizer']}"
    assert rerun in markdown and rerun in proc.stdout + proc.stderr  # printed to paste back

    # every job in TensorBoard's HParams view, with the union of their settings and metrics
    settings, metrics = hparams_view(sweep)
    assert {"choice/model", "choice/optimizer", "optimizer/lr", "model/block_conv"} <= settings
    assert {"val/lsd", "test/lsd", "test/mse"} <= metrics


def test_a_sweep_over_experiments_keeps_every_job_in_one_sweep_directory(workdir):
    # each experiment sets its own task_name; the sweep still has one directory and report
    run_shiftlab(
        "train",
        "-m",
        "experiment=glob(*,exclude=fashion*)",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=1",
        "+trainer.limit_val_batches=1",
        "+trainer.limit_test_batches=1",
        "trainer.enable_progress_bar=false",
        cwd=workdir,
    )
    assert [p.name for p in (workdir / "outputs").iterdir()] == ["train"]
    rows = read_report(only_sweep_dir(workdir))
    assert [r["experiment"] for r in rows] == [
        "conv_unet_synth",
        "drum_size_crepe",
        "pitch_crepe",
        "segmentation_shapes",
        "speech_enhancement",
        "tsconv_synth",
    ]
    assert all(r["status"] == "completed" for r in rows)
    # one best per monitored metric: val/lsd (min) among the U-Nets, the others alone
    assert {r["monitor"] for r in rows if r["best"] == "True"} == {
        "val/lsd", "val/iou", "val/loss", "val/raw_pitch_accuracy",
    }  # fmt: skip


def test_every_optimizer_option_in_one_sweep(workdir):
    run_shiftlab("train", "-m", "optimizer=glob(*)", "debug=fdr", *TINY, cwd=workdir)
    rows = read_report(only_sweep_dir(workdir))
    options = sorted(p.stem for p in (CONF / "optimizer").glob("*.yaml"))
    assert sorted(r["optimizer"] for r in rows) == options
    assert all(r["status"] == "completed" for r in rows), [r["error"] for r in rows]


def test_a_failing_job_is_recorded_and_the_others_finish(workdir):
    # lr=1e30 diverges to NaN at the first step: that job fails, the other two finish
    proc = run_shiftlab("train", "-m", "optimizer.lr=1e-3,1e30,3e-4", *ONE_EPOCH, cwd=workdir)
    assert "Job 1 failed and the sweep goes on" in proc.stdout + proc.stderr
    sweep = only_sweep_dir(workdir)
    rows = read_report(sweep)
    assert [r["status"] for r in rows] == ["completed", "failed", "completed"]
    assert "training loss became nan" in rows[1]["error"]
    assert rows[1]["objective"] == "" and rows[1]["best"] == "False"
    failed = json.loads((sweep / "1" / "metrics.json").read_text())
    assert failed["status"] == "failed" and failed["error"].startswith("TrainingDiverged")
    assert (sweep / "1" / "config.yaml").is_file()  # what the job wrote is kept
    markdown = (sweep / "report.md").read_text()
    assert "3 jobs: 2 completed, 1 failed" in markdown
    assert "## Failed jobs" in markdown and "- job 1: TrainingDiverged" in markdown


def test_a_sweep_in_which_every_job_fails_exits_with_an_error(workdir):
    proc = run_shiftlab(
        "train", "-m", "optimizer.lr=1e30,1e31", *ONE_EPOCH, cwd=workdir, check=False
    )
    assert proc.returncode == 1
    assert "No job of the sweep completed" in proc.stdout + proc.stderr
    rows = read_report(only_sweep_dir(workdir))
    assert [r["status"] for r in rows] == ["failed", "failed"]


def test_a_misspelt_option_stops_the_sweep_before_any_job(workdir):
    proc = run_shiftlab("train", "-m", "optimizer=adam,adamm", *ONE_EPOCH, cwd=workdir, check=False)
    assert proc.returncode == 1
    assert "adamm" in proc.stderr
    assert not list((workdir / "outputs").glob("train/multiruns/*/0/metrics.json"))


def test_seeds_give_mean_and_std_per_configuration(workdir):
    run_shiftlab("train", "-m", "model=tsconv_unet,conv_unet", "seed=1,2", *ONE_EPOCH, cwd=workdir)
    sweep = only_sweep_dir(workdir)
    rows = read_report(sweep)
    markdown = (sweep / "report.md").read_text()
    section = markdown.split("## Over seeds")[1]
    for model in ("tsconv_unet", "conv_unet"):
        values = [float(r["objective"]) for r in rows if r["model"] == model]
        mean = sum(values) / 2
        std = (sum((v - mean) ** 2 for v in values)) ** 0.5  # sample std of two values
        assert f"| {model} | 2/2 | {mean:.4g} ± {std:.4g} |" in section


def test_an_optuna_search_of_three_trials(workdir):
    proc = run_shiftlab(
        "train", "hparams_search=optuna", "hydra.sweeper.n_trials=3", *ONE_EPOCH, cwd=workdir
    )
    output = proc.stdout + proc.stderr
    assert "Study 'train' (val/lsd minimize)" in output  # from task.monitor_mode: min
    sweep = only_sweep_dir(workdir)
    rows = read_report(sweep)
    assert len(rows) == 3 and all(r["status"] == "completed" for r in rows)
    lrs = [float(r["optimizer.lr"]) for r in rows]
    assert len(set(lrs)) == 3 and all(1e-4 <= lr <= 3e-2 for lr in lrs)
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    best = next(r for r in rows if r["best"] == "True")
    assert results["best_value"] == pytest.approx(float(best["objective"]))
    # the paste-back command trains that trial once instead of starting a new search
    markdown = (sweep / "report.md").read_text()
    command = next(line.strip() for line in markdown.splitlines() if "    shiftlab train" in line)
    assert command.endswith("hydra.mode=RUN")
    run_shiftlab(*shlex.split(command)[1:], cwd=workdir)
    again = only_run_dir(workdir / "outputs")
    assert json.loads((again / "metrics.json").read_text())["metrics"]["val/lsd_best"] == (
        pytest.approx(float(best["objective"]), rel=1e-5)
    )


def test_an_optuna_search_maximises_a_metric_whose_mode_is_max(workdir):
    proc = run_shiftlab(
        "train",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        "experiment=segmentation_shapes",
        *SMALL_SHAPES,
        "trainer.max_epochs=1",
        cwd=workdir,
    )
    assert "(val/iou maximize)" in proc.stdout + proc.stderr  # val/iou, mode max
    sweep = only_sweep_dir(workdir)
    assert sweep.parent.parent.name == "segmentation_shapes"
    rows = read_report(sweep)
    best = next(r for r in rows if r["best"] == "True")
    assert best["monitor"] == "val/iou"
    assert float(best["objective"]) == max(float(r["objective"]) for r in rows)


def test_an_optuna_trial_that_fails_is_failed_and_the_search_goes_on(workdir):
    # with the default seed, TPE's random start draws lr=1e30 (diverges) for one of 3 trials
    proc = run_shiftlab(
        "train",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.params={optimizer.lr:'choice(1e30,1e-3)'}",
        *ONE_EPOCH,
        cwd=workdir,
    )
    output = proc.stdout + proc.stderr
    assert re.search(r"Trial \d failed \(TrainingDiverged: The training loss became nan", output)
    rows = read_report(only_sweep_dir(workdir))
    assert sorted(r["status"] for r in rows) == ["completed", "completed", "failed"]
    failed = next(r for r in rows if r["status"] == "failed")
    assert float(failed["optimizer.lr"]) == 1e30 and "nan" in failed["error"]


def test_report_command_on_an_interrupted_sweep(workdir):
    """Kill a sweep (SIGKILL, like a crash) while its second job trains; rebuild the report."""
    args = [
        "train",
        "-m",
        "trainer.max_epochs=1,200,1",
        *TINY[:-2],
        "trainer.enable_progress_bar=false",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*shiftlab_executable(), *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            done = list(workdir.glob("outputs/train/multiruns/*/0/metrics.json"))
            started = list(workdir.glob("outputs/train/multiruns/*/1/.hydra/overrides.yaml"))
            if done and started:
                break
            assert proc.poll() is None, "the sweep ended before it could be interrupted"
            time.sleep(0.2)
        else:
            pytest.fail("the sweep did not reach its second job")
        time.sleep(1.0)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    sweep = only_sweep_dir(workdir)
    assert not (sweep / "1" / "metrics.json").exists()

    result = run_shiftlab("report", str(sweep), cwd=workdir)
    assert "3 jobs: 1 completed, 1 not started, 1 unfinished" in result.stdout
    rows = read_report(sweep)
    assert [r["status"] for r in rows] == ["completed", "unfinished", "not started"]
    assert rows[2]["overrides"].startswith("trainer.max_epochs=1 ")  # enough to run it later
    assert rows[0]["best"] == "True"

    # with no directory, the newest sweep under outputs/
    assert "3 jobs: 1 completed" in run_shiftlab("report", cwd=workdir).stdout


def test_report_command_names_a_wrong_directory(workdir):
    proc = run_shiftlab("report", str(workdir / "nope"), cwd=workdir, check=False)
    assert proc.returncode == 1
    assert "No sweep directory at" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (workdir / "nope").exists()
    proc = run_shiftlab("report", cwd=workdir, check=False)
    assert proc.returncode == 1 and "No sweep found under outputs" in proc.stdout + proc.stderr


def test_a_submitit_local_sweep(workdir):
    run_shiftlab(
        "train",
        "-m",
        "hydra/launcher=submitit_local",
        "optimizer.lr=1e-3,3e-4",
        *ONE_EPOCH,
        cwd=workdir,
    )
    sweep = only_sweep_dir(workdir)
    rows = read_report(sweep)
    assert [r["status"] for r in rows] == ["completed", "completed"]
    assert list((sweep / ".submitit").iterdir())  # submitit's own job folders and logs


def test_a_joblib_sweep_shares_the_cores_among_parallel_jobs(workdir):
    run_shiftlab(
        "train",
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "optimizer.lr=1e-3,3e-4",
        *ONE_EPOCH,
        cwd=workdir,
    )
    sweep = only_sweep_dir(workdir)
    assert [r["status"] for r in read_report(sweep)] == ["completed", "completed"]
    cores = len(os.sched_getaffinity(0))
    expected = max(1, cores // 2)
    for job in ("0", "1"):
        log = (sweep / job / "train.log").read_text()
        assert f"torch uses {expected} CPU thread(s) in this job" in log
