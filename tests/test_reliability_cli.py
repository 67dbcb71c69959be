"""Faults a long run meets: a diverging loss, a SIGKILL (mid-epoch, or mid-save), and many
processes (DDP on two CPU processes, alone and inside a sweep). Through the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from tests.conftest import TINY, only_run_dir, read_events, run_shiftlab
from tests.test_sweeps_cli import only_sweep_dir, read_report

# Test-only callbacks, importable by the runs through PYTHONPATH: they stand for what goes
# wrong in real runs (weights blowing up, the machine killing the process).
FAULTS = '''
import os
import signal

import lightning as L
import torch


class PoisonWeights(L.Callback):
    """From the start of ``epoch`` on, every weight is NaN (as after an overflow)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.fill_(float("nan"))


class KillMidEpoch(L.Callback):
    """SIGKILL this process after batch 1 of epoch $KILL_AT_EPOCH (when that is set)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        epoch = os.environ.get("KILL_AT_EPOCH")
        if epoch is not None and trainer.current_epoch == int(epoch) and batch_idx == 1:
            os.kill(os.getpid(), signal.SIGKILL)
'''


def with_faults(workdir: Path) -> dict[str, str]:
    (workdir / "faults.py").write_text(FAULTS)
    return {"PYTHONPATH": os.pathsep.join([str(workdir), os.environ.get("PYTHONPATH", "")])}


def state_dict(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_a_diverging_loss_stops_the_run_and_the_last_good_checkpoint_stays_usable(workdir):
    env = with_faults(workdir)
    args = [*TINY, "trainer.max_epochs=4", "+callbacks.poison._target_=faults.PoisonWeights",
            "+callbacks.poison.epoch=2"]  # fmt: skip
    proc = run_shiftlab("train", *args, cwd=workdir, env=env, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "The training loss became nan at step" in output
    assert "optimizer.lr" in output and "Traceback" not in output
    run = only_run_dir(workdir / "outputs")
    assert json.loads((run / "metrics.json").read_text())["status"] == "failed"

    last = run / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    assert checkpoint["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values())
    proc = run_shiftlab("eval", f"ckpt_path={last}", cwd=workdir)
    assert "test/lsd" in proc.stdout + proc.stderr


def test_resume_after_sigkill_mid_epoch_ends_with_the_same_weights(workdir):
    env = with_faults(workdir)
    args = [*TINY, "trainer.max_epochs=4", "trainer.deterministic=true",
            "+callbacks.kill._target_=faults.KillMidEpoch"]  # fmt: skip
    run_shiftlab("train", *args, cwd=workdir, env={**env, "SHIFTLAB_LOG_DIR": "uninterrupted"})
    reference = only_run_dir(workdir / "uninterrupted")

    killed = run_shiftlab("train", *args, cwd=workdir, env={**env, "KILL_AT_EPOCH": "2"},
                          check=False)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    run = only_run_dir(workdir / "outputs")
    assert not (run / "metrics.json").exists()  # it died without a word
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1

    run_shiftlab("train", f"resume={run}", cwd=workdir, env=env)
    assert only_run_dir(workdir / "outputs") == run  # no second run directory
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 4

    resumed = state_dict(run / "checkpoints" / "last.ckpt")
    expected = state_dict(reference / "checkpoints" / "last.ckpt")
    assert resumed.keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(resumed[key], tensor), key

    # One TensorBoard log, its curves continued: a validation point for each of the 4 epochs.
    epochs = [e.value for e in read_events(run / "tensorboard").Scalars("epoch")]
    assert {0.0, 1.0, 2.0, 3.0} <= set(epochs)
    log = (run / "train.log").read_text()
    assert "Restored all states from the checkpoint" in log and "Test metrics" in log


WRITER = textwrap.dedent(
    """
    import sys, torch
    from shiftlab.run.checkpoint_io import AtomicCheckpointIO

    path, atomic = sys.argv[1], sys.argv[2] == "atomic"
    save = AtomicCheckpointIO().save_checkpoint if atomic else torch.save
    save({"version": 1, "w": torch.ones(4)}, path)
    print("first saved", flush=True)
    save({"version": 2, "w": torch.zeros(120_000_000)}, path)  # about 480 MB: a long write
    print("second saved", flush=True)
    """
)


def kill_during_second_save(path: Path, mode: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), mode], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "first saved"
    while not any(path.parent.glob(".*.partial")) and path.stat().st_size < 1_000_000:
        if proc.poll() is not None:
            break
    proc.kill()
    proc.wait()


def test_a_kill_during_a_checkpoint_write_leaves_the_previous_checkpoint(tmp_path):
    atomic = tmp_path / "atomic" / "last.ckpt"
    atomic.parent.mkdir()
    kill_during_second_save(atomic, "atomic")
    assert torch.load(atomic, weights_only=True)["version"] == 1  # whole, and the old one

    # The same kill with a plain torch.save leaves a file that cannot be read: the test
    # above would catch a writer that is not atomic.
    plain = tmp_path / "plain" / "last.ckpt"
    plain.parent.mkdir()
    kill_during_second_save(plain, "plain")
    try:
        torch.load(plain, weights_only=True)
        readable = True
    except Exception:
        readable = False
    assert not readable


# Fixed-length spectrograms: every process's batches are padded alike, so the DDP test
# metrics can be compared with a one-process evaluation of the same checkpoint.
DDP = ["data.num_train=32", "data.num_val=8", "data.num_test=8", "data.min_frames=16",
       "data.max_frames=16", "data.batch_size=8", "trainer.max_epochs=2",
       "trainer.enable_progress_bar=false", "trainer=ddp_cpu"]  # fmt: skip


def test_ddp_on_two_cpu_processes_writes_once_and_reduces_metrics(workdir):
    proc = run_shiftlab("train", *DDP, cwd=workdir)
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in proc.stdout + proc.stderr
    run = only_run_dir(workdir / "outputs")
    assert sorted(p.name for p in run.iterdir()) == [
        ".hydra", "checkpoints", "config.yaml", "metrics.json", "tensorboard", "train.log",
    ]  # fmt: skip
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["status"] == "completed"

    # Each process tested half of the 8 samples; the logged metrics are over all 8.
    proc = run_shiftlab("eval", f"ckpt_path={summary['best_checkpoint']}", cwd=workdir)
    single = json.loads(next(workdir.glob("outputs/eval/runs/*/metrics.json")).read_text())
    for key in ("test/mse", "test/mae", "test/lsd"):
        assert abs(single["metrics"][key] - summary["metrics"][key]) < 1e-5, key


def test_ddp_inside_a_sweep_gives_each_job_its_directory(workdir):
    run_shiftlab("train", "-m", *DDP, "optimizer.lr=1e-3,2e-3", cwd=workdir)
    sweep = only_sweep_dir(workdir)
    rows = read_report(sweep)
    assert [row["status"] for row in rows] == ["completed", "completed"]
    for job in ("0", "1"):
        files = {p.name for p in (sweep / job).iterdir()}
        assert {"checkpoints", "metrics.json", "tensorboard", "train.log"} <= files
        assert not any(name.startswith("train_rank") for name in files)
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
