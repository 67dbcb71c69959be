"""Segmentation data (folders, synthetic shapes, joint augmentation) and the task."""

from __future__ import annotations

import functools

import albumentations as A
import numpy as np
import pytest
import torch
from PIL import Image

from shiftlab.data import SegmentationFolders, ShapesSynth
from shiftlab.data.segmentation_modules import SegmentationSamples
from shiftlab.data.synthetic_shapes import ShapesSynthesis
from shiftlab.errors import ConfigError, DataError
from shiftlab.tasks import SemanticSegmentation
from shiftlab.tasks.segmentation_losses import LOSS_NAMES, make_segmentation_loss
from tests.helpers import write_segmentation_folders


def folders(root, **kwargs) -> SegmentationFolders:
    kwargs.setdefault("num_classes", 3)
    return SegmentationFolders(str(root), **kwargs)


def read_every_sample(dm) -> None:
    """Read every sample of every split (checks run when a sample is read)."""
    for dataset in dm.datasets.values():
        for _ in dataset:
            pass


def test_flip_moves_the_mask_exactly_with_the_image():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(8, 12, 3), dtype=np.uint8)
    mask = rng.integers(0, 4, size=(8, 12))
    flip = A.Compose([A.HorizontalFlip(p=1.0)])
    samples = SegmentationSamples(lambda i: (image, mask, "img", "msk"), [0], flip, 4, None)
    item = samples[0]
    assert torch.equal(item["mask"], torch.from_numpy(mask[:, ::-1].copy()))
    assert torch.equal(
        item["image"], torch.from_numpy(image[:, ::-1].transpose(2, 0, 1).copy()).float()
    )


def test_configured_pipeline_keeps_image_and_mask_aligned():
    dm = ShapesSynth(
        num_train=4,
        num_val=1,
        num_test=1,
        size=32,
        train_transforms={"rot": A.RandomRotate90(p=1.0), "flip": A.VerticalFlip(p=1.0)},
    )
    dm.setup()
    image, mask, _, _ = dm.read(0)
    torch.manual_seed(0)
    item = dm.datasets["train"][0]
    # find the one rotation (k) that maps the image, and check that it maps the mask the same
    out = item["image"].numpy().transpose(1, 2, 0)
    for k in range(4):
        candidate = np.rot90(image, k)[::-1]
        if candidate.shape == out.shape and np.array_equal(candidate, out):
            assert np.array_equal(np.rot90(mask, k)[::-1], item["mask"].numpy())
            break
    else:
        pytest.fail("the image was not a rotation and flip of the original")


def test_folders_pair_images_and_masks_by_stem(tmp_path):
    root = write_segmentation_folders(tmp_path / "d", splits=("train", "val", "test"))
    dm = folders(root)
    dm.setup()
    for split in ("train", "val", "test"):
        for item in dm.datasets[split]:
            i = int(item["image"][0, 0, 0].item()) // 10  # grey level encodes the file number
            assert int(item["mask"].max()) == i % 3


def test_missing_val_and_test_are_split_reproducibly_and_written(tmp_path):
    root = write_segmentation_folders(tmp_path / "d", count=10)
    layouts = []
    for run in ("a", "b"):
        dm = folders(
            root,
            val_fraction=0.2,
            test_fraction=0.3,
            split_seed=1,
            splits_file=str(tmp_path / run / "splits.csv"),
        )
        dm.setup()
        assert [len(dm.datasets[s]) for s in ("train", "val", "test")] == [5, 2, 3]
        layouts.append((tmp_path / run / "splits.csv").read_text())
    assert layouts[0] == layouts[1] and "train_03.png" in layouts[0]


def test_image_without_mask_is_named(tmp_path):
    root = write_segmentation_folders(tmp_path / "d")
    (root / "trainannot" / "train_02.png").unlink()
    with pytest.raises(DataError, match=r"Image .*train_02.png has no mask"):
        folders(root).setup()


def test_mask_of_another_size_is_named_at_setup(tmp_path):
    root = write_segmentation_folders(tmp_path / "d")
    dm = folders(root, val_fraction=0.0, test_fraction=0.0)
    with pytest.raises(ConfigError):  # val and test would be empty: checked at setup
        dm.setup()
    Image.fromarray(np.zeros((10, 10), dtype=np.uint8)).save(root / "trainannot" / "train_01.png")
    dm = folders(root, val_fraction=0.2, test_fraction=0.2, split_seed=0)
    with pytest.raises(  # found from the file headers, before any training step
        DataError, match=r"Mask .*train_01.png is 10×10 but its image .*train_01.png is 56×40"
    ):
        dm.setup()


def test_mask_values_outside_the_classes_are_named(tmp_path):
    root = write_segmentation_folders(tmp_path / "d", classes=5)
    dm = folders(root, num_classes=3, val_fraction=0.2, test_fraction=0.2)
    dm.setup()
    with pytest.raises(
        DataError, match=r"Mask .*train_0[34].png holds class values \[[34]\] outside 0–2"
    ):
        read_every_sample(dm)


def test_ignore_index_values_are_allowed(tmp_path):
    root = write_segmentation_folders(tmp_path / "d", count=5)
    mask = np.zeros((40, 56), dtype=np.uint8)
    mask[0, 0] = 255
    Image.fromarray(mask).save(root / "trainannot" / "train_00.png")
    dm = folders(root, ignore_index=255, val_fraction=0.2, test_fraction=0.2)
    dm.setup()
    assert any(int(item["mask"].max()) == 255 for s in dm.datasets.values() for item in s)


def test_corrupt_image_is_named_at_setup(tmp_path):
    root = write_segmentation_folders(tmp_path / "d", count=5)
    (root / "train" / "train_00.png").write_bytes(b"not a png")
    dm = folders(root, val_fraction=0.2, test_fraction=0.2)
    with pytest.raises(DataError, match=r"Cannot read image .*train_00.png"):
        dm.setup()


def test_colour_masks_with_a_palette(tmp_path):
    root = write_segmentation_folders(tmp_path / "d", count=5)
    palette = [[0, 0, 0], [255, 0, 0], [0, 0, 255]]
    rgb = np.zeros((40, 56, 3), dtype=np.uint8)
    rgb[:, :10] = palette[1]
    rgb[:, 10:20] = palette[2]
    for path in (root / "trainannot").iterdir():
        Image.fromarray(rgb).save(path)
    dm = folders(root, palette=palette, val_fraction=0.2, test_fraction=0.2)
    dm.setup()
    mask = dm.datasets["train"][0]["mask"]
    assert mask[0, :10].tolist() == [1] * 10 and mask[0, 10:20].tolist() == [2] * 10
    rgb[0, 0] = [9, 9, 9]
    Image.fromarray(rgb).save(root / "trainannot" / "train_00.png")
    with pytest.raises(DataError, match=r"colour \(9, 9, 9\), which is not in data.palette"):
        read_every_sample(dm)


def test_grey_images_and_normalisation_settings_are_checked(tmp_path):
    root = write_segmentation_folders(tmp_path / "d", count=5)
    dm = folders(root, in_channels=1, val_fraction=0.2, test_fraction=0.2)
    dm.setup()
    assert dm.datasets["train"][0]["image"].shape == (1, 40, 56)
    with pytest.raises(ConfigError, match=r"data.mean has 3 values for 1-channel images"):
        folders(root, in_channels=1, mean=[0.5, 0.5, 0.5])


def test_shapes_are_deterministic_and_have_every_class():
    gen = ShapesSynthesis(size=64)
    a, b = gen.sample(3, 7), gen.sample(3, 7)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    seen = set()
    for i in range(20):
        image, mask = gen.sample(0, i)
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        seen |= set(np.unique(mask).tolist())
    assert seen == {0, 1, 2, 3}


@pytest.mark.parametrize("mode", ["multiclass", "binary", "multilabel"])
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_loss_builds_for_every_mode_it_supports(mode, name):
    if (mode, name) == ("multiclass", "bce"):
        with pytest.raises(ConfigError, match="bce is for binary"):
            make_segmentation_loss(name, mode)
        return
    loss = make_segmentation_loss(name, mode)
    channels = 3 if mode != "binary" else 1
    logits = torch.randn(2, channels, 8, 8, requires_grad=True)
    if mode == "multiclass":
        target = torch.randint(0, 3, (2, 8, 8))
    else:
        target = torch.randint(0, 2, (2, channels, 8, 8)).float()
    value = loss(logits, target)
    value.backward()
    assert torch.isfinite(value) and logits.grad is not None


def test_weighted_sum_of_two_losses():
    both = make_segmentation_loss({"dice": 1.0, "ce": 0.5}, "multiclass")
    dice, ce = (
        make_segmentation_loss("dice", "multiclass"),
        make_segmentation_loss("ce", "multiclass"),
    )
    logits, target = torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8))
    torch.testing.assert_close(
        both(logits, target), dice(logits, target) + 0.5 * ce(logits, target)
    )
    with pytest.raises(ConfigError, match="unknown loss"):
        make_segmentation_loss({"dice": 1.0, "cross": 1.0}, "multiclass")


def make_task(**kwargs) -> SemanticSegmentation:
    net = torch.nn.Conv2d(3, kwargs.pop("out", 3), 1)
    return SemanticSegmentation(
        net, functools.partial(torch.optim.Adam), channels_last=False, **kwargs
    )


pytestmark = pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")


def test_ignored_pixels_count_in_neither_loss_nor_metrics():
    task = make_task(num_classes=3, ignore_index=255, loss="ce")
    image = torch.randn(1, 3, 6, 6)
    mask = task.predict_labels(task(image)).clone()  # a perfect prediction...
    mask[0, 0, :3] = 255  # ...with some pixels marked void
    out = task._evaluate({"image": image, "mask": mask}, task.val_metrics, "val")
    values = task.val_metrics.compute()
    assert values["pixel_accuracy"] == 1.0
    assert torch.equal(out["labels"][0, 1:], mask[0, 1:])


def test_binary_mode_scores_background_and_foreground():
    task = make_task(mode="binary", num_classes=2, out=1, loss={"bce": 1.0, "dice": 1.0})
    image = torch.randn(2, 3, 8, 8)
    labels = task.predict_labels(task(image))
    assert labels.shape == (2, 8, 8) and set(labels.unique().tolist()) <= {0, 1}
    task.val_metrics.update(labels, labels)
    values = task.val_metrics.compute()
    assert values["iou"].shape == (2,)
    assert torch.isfinite(task.criterion(task(image), labels.unsqueeze(1).float()))


def test_batches_are_channels_last_uint8_equal_to_the_items_int64_masks_on_the_device():
    dm = ShapesSynth(num_train=4, num_val=2, num_test=2, size=32, batch_size=2)
    dm.setup()
    batch = next(iter(dm.val_dataloader()))  # no augmentation: items repeat exactly
    items = [dm.datasets["val"][i] for i in range(2)]
    assert batch["image"].shape == (2, 3, 32, 32)
    assert batch["image"].is_contiguous(memory_format=torch.channels_last)
    assert batch["mask"].dtype == torch.uint8 and batch["mask"].shape == (2, 32, 32)
    assert torch.equal(batch["image"], torch.stack([item["image"] for item in items]))
    assert torch.equal(batch["mask"], torch.stack([item["mask"] for item in items]))
    on_device = dm.on_after_batch_transfer(batch, 0)
    assert on_device["mask"].dtype == torch.int64
    assert batch["index"].tolist() == [item["index"] for item in items]
