"""Trackers beside TensorBoard, read back the way their users read them: one sweep with
``logger=[tensorboard,mlflow,wandb]``; MLflow's store through MLflow's own client (a parent
run, the jobs its children, with params, metrics and the best checkpoint as an artefact);
W&B's offline run through the records ``wandb sync`` would upload."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_shiftlab
from tests.made_once import made_once
from tests.test_segmentation_cli import SMALL_SHAPES

EPOCHS = 2
LRS = ("0.001", "0.003")


def run_tracked_sweep(workdir: Path) -> None:
    for name in ("MLFLOW_TRACKING_URI", "WANDB_MODE"):  # the defaults: outputs/, offline
        assert name not in os.environ, f"unset {name} to run this test"
    run_shiftlab("train", "-m", "experiment=segmentation_shapes", *SMALL_SHAPES,
                 f"trainer.max_epochs={EPOCHS}", f"optimizer.lr={','.join(LRS)}",
                 "logger=[tensorboard,mlflow,wandb]", cwd=workdir)  # fmt: skip


@pytest.fixture(scope="module")
def tracked_sweep(tmp_path_factory) -> Path:
    """A two-job sweep logged to TensorBoard, MLflow and W&B at once: its launch directory
    (run once for all workers)."""
    return made_once(tmp_path_factory, "tracked-sweep", run_tracked_sweep)


def job_dirs(workdir: Path) -> list[Path]:
    """The sweep's job directories."""
    found = [path.parent for path in workdir.glob("outputs/*/multiruns/*/*/metrics.json")]
    assert len(found) == len(LRS)
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_mlflow_has_the_sweep_as_a_parent_run_with_its_jobs_as_children(tracked_sweep):
    from mlflow.tracking import MlflowClient

    store = tracked_sweep / "outputs" / "mlflow.db"
    assert store.is_file()  # the default store: SQLite under outputs/
    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("segmentation_shapes")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == len(LRS) == len(runs) - 1
    sweep_dir = Path(parent.data.tags["shiftlab.sweep_dir"])
    assert parent.info.status == "FINISHED" and parent.info.run_name == f"sweep {sweep_dir.name}"
    parent_files = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"report.md", "report.csv"} <= parent_files

    assert {p.resolve() for p in job_dirs(tracked_sweep)} == {
        sweep_dir / child.info.run_name.split("#")[1] for child in children}  # fmt: skip
    for child in children:
        run_id = child.info.run_id
        assert child.info.status == "FINISHED"
        params = child.data.params
        assert params["choice/model"] == "smp_unet" and params["run/status"] == "completed"
        run_dir = sweep_dir / child.info.run_name.split("#")[1]  # "<sweep time> #<job>"
        summary = json.loads((run_dir / "metrics.json").read_text())
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        assert float(params["optimizer/lr"]) == config["optimizer"]["lr"]
        history = client.get_metric_history(run_id, "val/iou")
        assert len(history) == EPOCHS  # once per validation epoch
        assert history[-1].value == pytest.approx(summary["metrics"]["val/iou"])
        assert child.data.metrics["test/iou"] == pytest.approx(summary["metrics"]["test/iou"])
        assert child.data.metrics["val/iou_best"] == pytest.approx(
            summary["metrics"]["val/iou_best"]
        )
        names = {a.path for a in client.list_artifacts(run_id)}
        assert {"config.yaml", "metrics.json", "checkpoints"} <= names
        best = Path(summary["best_checkpoint"])
        (stored,) = client.list_artifacts(run_id, "checkpoints")
        assert stored.path == f"checkpoints/{best.name}"
        local = client.download_artifacts(run_id, stored.path, str(run_dir / "downloaded"))
        assert sha256(Path(local)) == sha256(best)  # the best checkpoint, byte for byte
        assert list(run_dir.glob("tensorboard/events.out.tfevents.*"))  # TensorBoard beside


def wandb_records(path: Path) -> Iterator:
    """The records of an offline W&B run file (a LevelDB-style log of protobuf records, in
    32 KiB blocks after a 7-byte header): what ``wandb sync`` uploads."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    position, block, pending = 7, 32768, b""
    while position + 7 <= len(data):
        left = block - position % block
        if left < 7:  # a block's tail too short for a header is padding
            position += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if length == 0 and kind == 0:
            position += left
            continue
        chunk = data[position + 7 : position + 7 + length]
        position += 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk  # full/first, middle/last
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def test_wandb_writes_each_job_offline_in_the_sweeps_group(tracked_sweep):
    for run_dir in job_dirs(tracked_sweep):
        summary = json.loads((run_dir / "metrics.json").read_text())
        (run_file,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
        records = list(wandb_records(run_file))
        (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        assert run.run_group == run_dir.parent.name and run.job_type == "sweep-job"
        assert run.display_name == f"{run_dir.parent.name} #{run_dir.name}"
        config = {u.key: json.loads(u.value_json) for r in records
                  if r.WhichOneof("record_type") == "config" for u in r.config.update}  # fmt: skip
        assert config["choice/model"] == "smp_unet"
        assert config["optimizer/lr"] == yaml.safe_load(
            (run_dir / "config.yaml").read_text())["optimizer"]["lr"]  # fmt: skip
        iou = [json.loads(item.value_json) for r in records
               if r.WhichOneof("record_type") == "history"
               for item in r.history.item
               if (item.key or "/".join(item.nested_key)) == "val/iou"]  # fmt: skip
        assert len(iou) == EPOCHS and iou[-1] == pytest.approx(summary["metrics"]["val/iou"])
        artifacts = {r.artifact.type: r.artifact for r in records
                     if r.WhichOneof("record_type") == "artifact"}  # fmt: skip
        assert {e.path for e in artifacts["run-files"].manifest.contents} == {
            "config.yaml", "metrics.json"}  # fmt: skip
        (entry,) = artifacts["model"].manifest.contents
        assert entry.path == Path(summary["best_checkpoint"]).name
        (exit_record,) = [r.exit for r in records if r.WhichOneof("record_type") == "exit"]
        assert exit_record.exit_code == 0
