"""Image classification: layer-list and timm models, folder/CSV/IDX data, the task."""

from __future__ import annotations

import csv
import functools

import numpy as np
import pytest
import torch
from torch import nn

from shiftlab.data import FashionMNIST, ImageCSV, ImageFolder
from shiftlab.errors import ConfigError, DataError
from shiftlab.models import LayerClassifier, TimmClassifier
from shiftlab.run.building import build_task
from shiftlab.tasks import ImageClassification
from tests.helpers import write_class_folders, write_idx
from tests.test_configs import compose_train

pytestmark = pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")


def conv_block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ELU(), nn.MaxPool2d(2)]


@pytest.mark.parametrize(("channels", "size"), [(1, (28, 28)), (3, (32, 48))])
def test_layer_classifier_infers_its_head(channels, size):
    net = LayerClassifier([*conv_block(channels, 8), *conv_block(8, 16)], 5, channels, size)
    assert net.head[-1].in_features == 16 * (size[0] // 4) * (size[1] // 4)
    assert net(torch.randn(3, channels, *size)).shape == (3, 5)


def test_layer_classifier_that_cannot_take_the_image_says_so():
    with pytest.raises(ConfigError, match="cannot take a 3×28×28 image"):
        LayerClassifier(conv_block(1, 8), 5, in_channels=3, image_size=(28, 28))


def test_layer_classifier_from_config_takes_classes_and_channels_from_the_data(tmp_path):
    root = write_class_folders(tmp_path / "imgs")
    for channels in (1, 3):
        cfg = compose_train([
            "experiment=fashion_mnist_cnn", "data=image_folder", f"data.root={root}",
            f"data.in_channels={channels}", f"data.mean=[{','.join(['0.5'] * channels)}]",
            f"data.std=[{','.join(['0.25'] * channels)}]", "data.image_size=[24,36]",
            f"paths.output_dir={tmp_path}", "data.val_fraction=0.2", "data.test_fraction=0.2",
        ])  # fmt: skip
        from shiftlab.run.building import build

        datamodule = build(cfg.data, "data")
        task = build_task(cfg, datamodule)
        assert task.num_classes == 3 and task.class_names == ["cat", "dog", "owl"]
        assert task.net.head[-1].out_features == 3
        batch = next(iter(datamodule.train_dataloader()))
        assert batch["image"].shape[1:] == (channels, 24, 36)
        assert batch["image"].dtype == torch.uint8  # normalised on the device
        batch = datamodule.on_after_batch_transfer(batch, 0)
        assert task(batch["image"]).shape == (batch["image"].shape[0], 3)


def test_timm_classifier_any_model_by_name():
    net = TimmClassifier("resnet18", num_classes=4, in_channels=1)
    assert net(torch.randn(2, 1, 32, 32)).shape == (2, 4)
    with pytest.raises(ConfigError, match="timm has no model 'resnet19'; did you mean"):
        TimmClassifier("resnet19", num_classes=4)


def test_image_folder_takes_class_names_from_folders_and_splits_per_class(tmp_path):
    root = write_class_folders(tmp_path / "imgs", per_class=10)
    dm = ImageFolder(
        str(root),
        image_size=(20, 30),
        in_channels=3,
        val_fraction=0.2,
        test_fraction=0.1,
        splits_file=str(tmp_path / "splits.csv"),
    )
    dm.setup()
    assert dm.class_names == ["cat", "dog", "owl"]
    assert [len(dm.datasets[s]) for s in ("train", "val", "test")] == [21, 6, 3]
    for item in dm.datasets["val"]:  # grey level encodes the class
        assert int(item["image"][0, 0, 0]) // 60 == item["label"]
    rows = list(csv.DictReader((tmp_path / "splits.csv").open()))
    assert len(rows) == 30 and {r["class"] for r in rows if r["split"] == "val"} == {
        "cat",
        "dog",
        "owl",
    }
    again = ImageFolder(str(root), image_size=(20, 30), val_fraction=0.2, test_fraction=0.1)
    again.setup()
    assert again.datasets["val"].indices == dm.datasets["val"].indices


def test_image_folder_refuses_an_empty_class_folder(tmp_path):
    root = write_class_folders(tmp_path / "imgs")
    (root / "empty").mkdir()
    with pytest.raises(DataError, match=r"Class folder .*empty holds no images"):
        ImageFolder(str(root), image_size=(20, 30)).setup()


def test_image_folder_with_a_fixed_class_list(tmp_path):
    root = write_class_folders(tmp_path / "imgs")
    dm = ImageFolder(
        str(root),
        image_size=(20, 30),
        class_names=["owl", "cat", "dog"],
        val_fraction=0.2,
        test_fraction=0.2,
    )
    dm.setup()
    assert dm.network_facts()["class_names"] == ["owl", "cat", "dog"]


def write_csv_dataset(tmp_path, rows):
    images = tmp_path / "images"
    write_class_folders(images, classes=("all",), per_class=6)
    with (tmp_path / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["files", "type"])
        writer.writerows(rows)
    return images / "all", tmp_path / "labels.csv"


def test_image_csv_reads_files_and_labels(tmp_path):
    rows = [(f"all_{i}.png", "benign" if i % 2 else "malignant") for i in range(6)]
    images, table = write_csv_dataset(tmp_path, rows)
    dm = ImageCSV(
        str(images), str(table), image_size=(20, 30), val_fraction=0.34, test_fraction=0.34
    )
    dm.setup()
    assert dm.class_names == ["benign", "malignant"]
    assert sorted(dm.labels) == [0, 0, 0, 1, 1, 1]


def test_image_csv_refuses_a_missing_file_and_an_unknown_label(tmp_path):
    images, table = write_csv_dataset(tmp_path, [("all_0.png", "a"), ("nope.png", "b")])
    with pytest.raises(DataError, match=r"line 3 names nope.png, but .*nope.png does not exist"):
        ImageCSV(str(images), str(table), image_size=(20, 30)).setup()
    images, table = write_csv_dataset(tmp_path / "2", [("all_0.png", "a"), ("all_1.png", "zebra")])
    with pytest.raises(DataError, match=r"labels \['zebra'\] that are not in data.class_names"):
        ImageCSV(str(images), str(table), image_size=(20, 30), class_names=["a", "b"]).setup()
    with pytest.raises(DataError, match="has no column 'label'"):
        ImageCSV(str(images), str(table), label_column="label", image_size=(20, 30)).setup()


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_fashion_mnist_reads_idx_files(tmp_path, suffix):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 50), ("t10k", 20)):
        write_idx(
            tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", rng.integers(0, 255, (n, 28, 28))
        )
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n) % 10)
    dm = FashionMNIST(str(tmp_path), val_fraction=0.2, test_fraction=0.0)
    dm.setup()
    assert [len(dm.datasets[s]) for s in ("train", "val", "test")] == [40, 10, 20]
    item = dm.datasets["test"][3]
    assert item["image"].shape == (1, 28, 28) and item["label"] == 3
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="has no train-images-idx3-ubyte"):
        FashionMNIST(str(tmp_path / "empty")).setup()


def test_classification_task_metrics_and_smoothing():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 7))
    task = ImageClassification(
        net,
        functools.partial(torch.optim.Adam),
        num_classes=7,
        label_smoothing=0.1,
        channels_last=False,
    )
    assert task.criterion.label_smoothing == 0.1 and task.top_k == 5
    batch = {"image": torch.randn(6, 1, 2, 2), "label": torch.arange(6)}
    task._evaluate(batch, task.val_metrics, "val")
    values = task.val_metrics.compute()
    assert values["f1"].shape == (7,) and 0 <= values["accuracy"] <= 1
    assert "top5_accuracy" in values
