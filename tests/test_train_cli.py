"""`shiftlab train` end to end, through a subprocess, checking what a run leaves behind."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from tests.conftest import TINY, hparams_view, only_run_dir, read_events, run_shiftlab
from tests.helpers import write_npy_dataset

EXPECTED_SCALARS = {
    "train/loss_step",
    "train/loss_epoch",
    "val/loss",
    "val/mse",
    "val/mae",
    "val/lsd",
    "val/mse_baseline",
    "val/mae_baseline",
    "val/lsd_baseline",
    "test/mse",
    "test/mae",
    "test/lsd",
    "test/lsd_baseline",
    "lr-Adam",
}


def test_train_writes_a_complete_run_directory(workdir):
    run_shiftlab("train", *TINY, cwd=workdir)
    run = only_run_dir(workdir / "outputs")
    assert run.parent.parent.name == "train"  # outputs/<task_name>/runs/<time>

    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["_target_"] == "shiftlab.models.TSConvUNet"
    assert config["model"]["freq_bins"] == 256  # resolved, not ${data.freq_bins}
    assert (run / ".hydra" / "overrides.yaml").is_file()
    assert "Test metrics" in (run / "train.log").read_text()

    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints and any(n.startswith("epoch_") for n in checkpoints)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["shiftlab"]["config"]["model"]["block_conv"] == "tsconv"
    assert ckpt["shiftlab"]["monitor"] == "val/lsd"
    assert {"input_mean", "target_std"} <= {k.split(".")[-1] for k in ckpt["state_dict"]}

    summary = json.loads((run / "metrics.json").read_text())
    assert summary["monitor"] == "val/lsd" and summary["epochs"] == 2
    assert summary["best_checkpoint"].endswith(".ckpt")
    for key in ("val/lsd", "val/lsd_baseline", "val/lsd_best", "test/lsd", "test/lsd_baseline"):
        assert summary["metrics"][key] > 0

    events = read_events(run / "tensorboard")
    tags = events.Tags()
    assert set(tags["scalars"]) >= EXPECTED_SCALARS, sorted(tags["scalars"])
    images = [t for t in tags["images"] if t.startswith("val/spectrograms/")]
    assert len(images) == 4
    image = events.Images(images[0])
    assert len(image) == 2 and image[0].height == 256  # one per validation epoch, F rows
    # the HParams view: the run's settings, and the final metrics as its columns
    plugin = {
        k: HParamsPluginData.FromString(v) for k, v in events.PluginTagToContent("hparams").items()
    }
    session = plugin["_hparams_/session_start_info"].session_start_info.hparams
    assert session["choice/model"].string_value == "tsconv_unet"
    assert session["optimizer/lr"].number_value == pytest.approx(1e-3)
    settings, metric_tags = hparams_view(run / "tensorboard")
    assert {"choice/model", "optimizer/lr", "model/block_conv"} <= settings
    assert {"val/lsd", "val/lsd_baseline", "test/lsd"} <= metric_tags


def test_conv_unet_trains_the_same_way_and_a_checkpoint_can_be_tested_alone(workdir):
    run_shiftlab("train", "model=conv_unet", "task_name=fit", *TINY, cwd=workdir)
    fit = only_run_dir(workdir / "outputs")
    summary = json.loads((fit / "metrics.json").read_text())
    assert summary["metrics"]["test/lsd"] > 0
    assert yaml.safe_load((fit / "config.yaml").read_text())["model"]["block_conv"] == "conv"

    run_shiftlab(
        "train",
        "model=conv_unet",
        "task_name=test_only",
        "train=false",
        f"ckpt_path={summary['best_checkpoint']}",
        *TINY,
        cwd=workdir,
    )
    again = json.loads(
        next((workdir / "outputs" / "test_only").glob("runs/*/metrics.json")).read_text()
    )
    assert again["metrics"]["test/lsd"] == pytest.approx(summary["metrics"]["test/lsd"])


def test_seed_zero_is_honoured_and_runs_repeat(workdir):
    def test_metrics(seed: str, name: str) -> dict:
        run_shiftlab(
            "train",
            f"seed={seed}",
            f"task_name={name}",
            "trainer.max_epochs=1",
            "trainer.deterministic=true",
            *TINY[:-2],
            cwd=workdir,
        )
        return json.loads(
            next((workdir / "outputs" / name).glob("runs/*/metrics.json")).read_text()
        )

    first, again, other = test_metrics("0", "a"), test_metrics("0", "b"), test_metrics("1", "c")
    assert first["metrics"]["test/mse"] == again["metrics"]["test/mse"]
    assert first["metrics"]["test/mse"] != other["metrics"]["test/mse"]


def test_npy_data_with_variable_lengths(workdir):
    lengths = [5, 17, 9, 30, 12, 7, 21, 14, 26, 11]
    x, y = write_npy_dataset(workdir / "spectra", lengths, freq_bins=64)
    run_shiftlab(
        "train",
        "data=spectrogram_npy",
        f"data.train_data_path={x}",
        f"data.segmented_data_path={y}",
        "data.freq_bins=64",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
        "data.batch_size=3",
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        cwd=workdir,
    )
    run = only_run_dir(workdir / "outputs")
    rows = (run / "splits.csv").read_text().splitlines()
    assert rows[0] == "index,split,input,target,frames" and len(rows) == 11
    assert sum(r.split(",")[1] == "test" for r in rows[1:]) == 2
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["metrics"]["test/lsd"] > 0


def test_multirun_writes_one_directory_per_job(workdir):
    run_shiftlab(
        "train", "-m", "model=tsconv_unet,conv_unet", *TINY, "trainer.max_epochs=1", cwd=workdir
    )
    sweeps = list((workdir / "outputs" / "train" / "multiruns").iterdir())
    assert len(sweeps) == 1
    jobs = sorted(p for p in sweeps[0].iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == ["0", "1"]
    targets = [yaml.safe_load((j / "config.yaml").read_text())["model"]["block_conv"] for j in jobs]
    assert targets == ["tsconv", "conv"]
    for job in jobs:
        assert (job / "metrics.json").is_file() and (job / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.parametrize("option", ["fdr", "limit", "overfit"])
def test_debug_options_run(workdir, option):
    extra = ["trainer.max_epochs=2"] if option == "overfit" else []
    run_shiftlab(
        "train",
        f"debug={option}",
        *TINY[:-2],
        *extra,
        "trainer.enable_progress_bar=false",
        cwd=workdir,
    )
    assert list((workdir / "outputs" / "debug" / "runs").iterdir())
