"""Segmentation end to end through `shiftlab train`, as a user types it."""

from __future__ import annotations

import csv
import json

from tests.conftest import only_run_dir, read_events, run_shiftlab
from tests.helpers import write_segmentation_folders

SMALL_SHAPES = [
    "data.num_train=16", "data.num_val=8", "data.num_test=8", "data.size=64",
    "data.batch_size=8", "trainer.max_epochs=2", "trainer.enable_progress_bar=false",
]  # fmt: skip


def test_segmentation_experiment_logs_metrics_images_and_a_confusion_matrix(workdir):
    run_shiftlab("train", "experiment=segmentation_shapes", *SMALL_SHAPES, cwd=workdir)
    run = only_run_dir(workdir / "outputs")
    assert run.parent.parent.name == "segmentation_shapes"

    summary = json.loads((run / "metrics.json").read_text())
    assert summary["monitor"] == "val/iou" and summary["monitor_mode"] == "max"
    metrics = summary["metrics"]
    for key in (
        "val/iou",
        "val/dice",
        "val/pixel_accuracy",
        "test/iou",
        "test/iou/circle",
        "test/dice/triangle",
        "test/pixel_accuracy",
    ):
        assert 0.0 <= metrics[key] <= 1.0, key

    events = read_events(run / "tensorboard")
    scalars = set(events.Tags()["scalars"])
    assert {
        "val/iou",
        "val/iou/background",
        "val/iou/rectangle",
        "val/dice",
        "val/pixel_accuracy",
        "test/iou",
        "train/loss_step",
    } <= scalars
    images = set(events.Tags()["images"])
    assert {"val/samples/image_true_predicted", "test/confusion_matrix"} <= images
    grid = events.Images("val/samples/image_true_predicted")
    assert len(grid) == 2  # one per validation epoch
    assert grid[0].height > 64 * 3 and grid[0].width > 64 * 3  # rows of samples, 3 columns

    assert (run / "confusion_matrix.png").stat().st_size > 1000
    rows = list(csv.reader((run / "confusion_matrix.csv").open()))
    assert rows[0][1:] == ["background", "circle", "rectangle", "triangle"]
    counts = sum(int(v) for row in rows[1:] for v in row[1:])
    assert counts == 8 * 64 * 64  # every test pixel once
    table = (run / "test_per_class.md").read_text()
    assert "| circle |" in table and "| iou |" in table


def test_folder_dataset_with_any_image_size_and_a_split_file(workdir):
    root = write_segmentation_folders(workdir / "seg", count=10, size=(40, 50))
    run_shiftlab(
        "train",
        "experiment=segmentation_shapes",
        "data=segmentation_folders",
        f"data.root={root}",
        "data.num_classes=3",
        "data.class_names=[bg,a,b]",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
        "model=smp_fpn",
        "data.batch_size=4",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        cwd=workdir,
    )
    run = only_run_dir(workdir / "outputs")
    splits = list(csv.DictReader((run / "splits.csv").open()))
    assert len(splits) == 10 and {r["split"] for r in splits} == {"train", "val", "test"}
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    assert "test/iou/a" in metrics and "test/dice/bg" in metrics


def test_a_bad_mask_stops_the_run_with_the_file_named(workdir):
    from PIL import Image

    root = write_segmentation_folders(workdir / "seg", count=10, size=(32, 32))
    Image.new("L", (16, 16)).save(root / "trainannot" / "train_03.png")
    proc = run_shiftlab(
        "train",
        "experiment=segmentation_shapes",
        "data=segmentation_folders",
        f"data.root={root}",
        "data.num_classes=3",
        "trainer.max_epochs=1",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
        cwd=workdir,
        check=False,
    )
    assert proc.returncode == 1
    message = proc.stdout + proc.stderr
    assert "train_03.png is 16×16 but its image" in message
    assert "Traceback" not in message
