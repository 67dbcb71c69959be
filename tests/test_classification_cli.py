"""Classification end to end through `shiftlab train`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import only_run_dir, read_events, run_shiftlab
from tests.helpers import write_class_folders

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_cnn_learns_on_the_real_data(workdir):
    run_shiftlab(
        "train",
        "experiment=fashion_mnist_cnn",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=60",
        "+trainer.limit_val_batches=10",
        "+trainer.limit_test_batches=10",
        "trainer.enable_progress_bar=false",
        cwd=workdir,
    )
    run = only_run_dir(workdir / "outputs")
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    assert metrics["test/accuracy"] > 0.6  # chance is 0.1; 60 batches of 128 images
    assert "test/f1/T-shirt_top" in metrics and "test/top5_accuracy" in metrics
    tags = read_events(run / "tensorboard").Tags()
    images = {"test/confusion_matrix", "test/misclassified", "val/samples_green_right_red_wrong"}
    assert images <= set(tags["images"])
    assert {"val/accuracy", "val/f1", "val/precision", "val/recall"} <= set(tags["scalars"])
    table = (run / "test_per_class.md").read_text()
    assert "| Ankle boot |" in table and "f1" in table
    assert (run / "splits.csv").read_text().count("\n") == 70_001  # every sample, a header


def test_timm_classifier_on_an_image_folder(workdir):
    root = write_class_folders(workdir / "imgs", per_class=8, size=(40, 40))
    run_shiftlab(
        "train",
        "experiment=fashion_mnist_cnn",
        "data=image_folder",
        f"data.root={root}",
        "model=timm_classifier",
        "model.name=resnet18",
        "data.image_size=[32,32]",
        "data.val_fraction=0.25",
        "data.test_fraction=0.25",
        "data.batch_size=4",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        cwd=workdir,
    )
    run = only_run_dir(workdir / "outputs")
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["monitor"] == "val/accuracy"
    assert "test/recall/owl" in summary["metrics"]
    assert "resnet18" in (run / "config.yaml").read_text()
