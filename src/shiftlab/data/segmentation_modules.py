"""LightningDataModules for semantic segmentation: image folders and synthetic shapes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
from torch.utils.data import Dataset

from shiftlab.config.schema import check_split_fractions, check_value
from shiftlab.data.decoded_cache import DecodedSamples, decoded_samples
from shiftlab.data.device_normalize import loader_pipelines
from shiftlab.data.images import check_image_settings, read_image
from shiftlab.data.loader_settings import loader_workers
from shiftlab.data.loader_settings import pin_memory as pin_memory_default
from shiftlab.data.loaders import SplitLoaders, image_tensor, mask_tensor
from shiftlab.data.masks import check_pair, pair_by_stem, read_mask
from shiftlab.data.splits import (
    SPLITS,
    Folds,
    consecutive_splits,
    split_off,
    write_split_file,
)
from shiftlab.data.synthetic_shapes import SHAPE_CLASSES, ShapesSynthesis
from shiftlab.errors import ConfigError

Mode = Literal["binary", "multiclass"]


class SegmentationSamples(Dataset):
    """Image/mask pairs, read lazily, checked, and transformed jointly.

    ``read(i)`` returns ``(image H×W×C uint8, mask H×W int, image name, mask name)``. Items
    are dicts: ``image`` (C×H×W uint8 or float32, channels-last memory), ``mask`` (H×W,
    uint8 or the reader's integer dtype; int64 once on the device) and ``index``.
    """

    def __init__(
        self,
        read: Callable[[int], tuple[np.ndarray, np.ndarray, str, str]],
        indices: Sequence[int],
        transform: Callable[..., dict[str, Any]],
        num_classes: int,
        ignore_index: int | None,
    ) -> None:
        self.read = read
        self.indices = list(indices)
        self.transform = transform
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        # checked masks hold 0..num_classes-1 and ignore_index only: one byte a pixel then
        self.masks_fit_uint8 = num_classes <= 256 and (
            ignore_index is None or 0 <= ignore_index <= 255
        )

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        index = self.indices[i]
        image, mask, image_name, mask_name = self.read(index)
        check_pair(image, mask, self.num_classes, self.ignore_index, image_name, mask_name)
        out = self.transform(image=image, mask=mask)
        return {
            "image": image_tensor(out["image"]),
            "mask": mask_tensor(out["mask"], self.masks_fit_uint8),
            "index": index,
        }


class SegmentationDataModule(SplitLoaders, L.LightningDataModule):
    """Shared loading for segmentation data; subclasses say where the samples come from.

    Args:
        num_classes: classes in the masks, background included (2 for binary masks).
        class_names: a name per class for metrics and tables (default ``class_0``, ...).
        mode: ``multiclass`` (one class per pixel) or ``binary`` (foreground vs background;
            the network then has one output channel).
        in_channels: 1 to read images as grey, 3 as RGB.
        ignore_index: a mask value that counts in neither loss nor metrics (e.g. 255).
        train_transforms, eval_transforms: named albumentations transforms applied in order
            to image and mask together (see :mod:`shiftlab.data.transforms`).
        normalize_on_device: batches travel as uint8 and the pipelines' final ``normalize``
            step runs on the device (:mod:`shiftlab.data.device_normalize`); ``False`` keeps
            it in the loader (float32 batches).
        batch_size, num_workers, pin_memory: data loader settings; ``None`` chooses from the
            machine (:mod:`shiftlab.data.loader_settings`).
        out_channels: the network's output channels, stated in the config so that models
            follow it by interpolation; checked against ``mode`` and ``num_classes``.
        mean, std: the normalisation the pipelines apply (one value per channel, for 0–1
            pixel values); kept so that predictions can be shown in the images' colours.
        split_seed, num_folds, fold, group_by: k-fold cross-validation over train and val
            (see :class:`~shiftlab.data.splits.Folds`; the test split stays fixed).
    """

    # What the batches hold (see shiftlab.tasks.kinds.SAMPLES): the tasks that train on it.
    provides = "image_mask_pairs"

    def __init__(
        self,
        num_classes: int,
        class_names: Sequence[str] | None = None,
        mode: Mode = "multiclass",
        in_channels: int = 3,
        ignore_index: int | None = None,
        train_transforms: Mapping[str, Any] | None = None,
        eval_transforms: Mapping[str, Any] | None = None,
        normalize_on_device: bool = True,
        batch_size: int = 16,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        out_channels: int | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        split_seed: int = 0,
        num_folds: int | None = None,
        fold: int = 0,
        group_by: str | None = None,
    ) -> None:
        super().__init__()
        self.folds = Folds(num_folds, fold, split_seed, group_by)
        if mode not in ("binary", "multiclass"):
            raise ConfigError(f"data.mode must be 'binary' or 'multiclass', got {mode!r}.")
        if mode == "binary" and num_classes != 2:
            raise ConfigError(f"data.mode=binary needs data.num_classes=2, got {num_classes}.")
        check_image_settings(in_channels, mean, std)
        check_value("data.batch_size", batch_size)
        names = list(class_names) if class_names else [f"class_{i}" for i in range(num_classes)]
        if len(names) != num_classes:
            raise ConfigError(
                f"data.class_names has {len(names)} names but data.num_classes is "
                f"{num_classes}; give one name per class."
            )
        self.num_classes = num_classes
        self.class_names = names
        self.mode = mode
        self.in_channels = in_channels
        self.out_channels = 1 if mode == "binary" else num_classes
        if out_channels is not None and out_channels != self.out_channels:
            raise ConfigError(
                f"data.out_channels is {out_channels} but mode={mode} with {num_classes} "
                f"classes needs {self.out_channels}; set data.out_channels={self.out_channels}."
            )
        self.mean, self.std = mean, std
        self.ignore_index = ignore_index
        self.train_transform, self.eval_transform, self.device_normalize = loader_pipelines(
            train_transforms, eval_transforms, normalize_on_device
        )
        self.batch_size = batch_size
        self.num_workers = loader_workers(num_workers)
        self.pin_memory = pin_memory_default(pin_memory)
        self.datasets: dict[str, SegmentationSamples] | None = None

    def split_indices(self) -> dict[str, list[int]]:
        raise NotImplementedError

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray, str, str]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.datasets is not None:
            return
        self.datasets = {}
        for split, indices in self.split_indices().items():
            if not indices:
                raise ConfigError(
                    f"The {split} split of the segmentation data is empty; add samples or "
                    f"raise data.{split}_fraction."
                )
            transform = self.train_transform if split == "train" else self.eval_transform
            self.datasets[split] = SegmentationSamples(
                self.read, indices, transform, self.num_classes, self.ignore_index
            )


class ShapesSynth(SegmentationDataModule):
    """Random shapes (circle, rectangle, triangle) on textured, noisy backgrounds.

    Sample ``i`` depends only on ``(seed, i)``; train is ``[0, num_train)``, val and test
    follow. Generated once, in memory. Four classes: background and the three shapes.

    Args:
        num_train, num_val, num_test: images per split.
        size: image height and width in pixels.
        seed: the generator's seed (separate from the training seed).
        Other arguments: see :class:`SegmentationDataModule`.
    """

    def __init__(
        self,
        num_train: int = 512,
        num_val: int = 64,
        num_test: int = 64,
        size: int = 64,
        seed: int = 1234,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("num_classes", len(SHAPE_CLASSES))
        kwargs.setdefault("class_names", list(SHAPE_CLASSES))
        super().__init__(**kwargs)
        if self.num_classes != len(SHAPE_CLASSES) or self.mode != "multiclass":
            raise ConfigError(
                f"shapes_synth has {len(SHAPE_CLASSES)} classes ({', '.join(SHAPE_CLASSES)}) "
                "in multiclass mode; leave data.num_classes and data.mode as they are."
            )
        self.counts = {"train": num_train, "val": num_val, "test": num_test}
        self.seed = seed
        self.generator = ShapesSynthesis(size=size)
        self._samples: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def split_indices(self) -> dict[str, list[int]]:
        start = sum(self.counts.values())
        splits = self.folds.apply(consecutive_splits(self.counts), [str(i) for i in range(start)])
        for index in range(start):  # generate once; every epoch reuses them
            image, mask = self.generator.sample(self.seed, index)
            if self.in_channels == 1:
                image = image.mean(axis=2, keepdims=True).astype(np.uint8)
            self._samples[index] = (image, mask)  # uint8 class indices, as index PNGs
        return splits

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray, str, str]:
        image, mask = self._samples[index]
        name = f"shapes_synth[{index}]"
        return image, mask, name, name


class SegmentationFolders(SegmentationDataModule):
    """Images and masks from ``train/ trainannot/ val/ valannot/ test/ testannot/`` folders.

    Images and masks pair by file stem. Masks are PNGs of class indices, or RGB colour masks
    with ``palette`` (one RGB colour per class, in class order). A missing ``val`` or ``test``
    folder is covered by a reproducible split of ``train`` (``val_fraction``,
    ``test_fraction``, ``split_seed``), written to ``splits_file``.

    Args:
        root: the folder holding the split folders.
        palette: RGB colour of each class, for colour masks; ``None`` for index masks.
        val_fraction, test_fraction, split_seed, splits_file: the split of ``train`` used
            for missing folders, and where it is written.
        decoded_cache: decode every image and mask once, at set-up, into a memory-mapped
            file that later epochs and runs read (:mod:`shiftlab.data.decoded_cache`).
        Other arguments: see :class:`SegmentationDataModule`.
    """

    def __init__(
        self,
        root: str,
        num_classes: int,
        palette: Sequence[Sequence[int]] | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        splits_file: str | None = None,
        decoded_cache: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        self.decoded_cache = decoded_cache
        self._decoded: DecodedSamples | None = None
        if palette is not None and len(palette) != num_classes:
            raise ConfigError(
                f"data.palette has {len(palette)} colours but data.num_classes is "
                f"{num_classes}; give one RGB colour per class."
            )
        check_split_fractions({"val": val_fraction, "test": test_fraction})
        self.root = Path(root).expanduser()
        self.palette = [list(c) for c in palette] if palette is not None else None
        self.fractions = {"val": val_fraction, "test": test_fraction}
        self.splits_file = splits_file
        self.pairs: list[tuple[Path, Path]] = []

    def split_indices(self) -> dict[str, list[int]]:
        if not (self.root / "train").is_dir():
            raise ConfigError(
                f"data.root: {self.root} has no train/ folder. Expected train/ trainannot/ "
                "(and optionally val/ valannot/ test/ testannot/) under data.root."
            )
        splits: dict[str, list[int]] = {}
        self.pairs = []  # indices count from 0 on every call
        for split in SPLITS:
            if split == "train" or (self.root / split).is_dir():
                pairs = pair_by_stem(self.root / split, self.root / f"{split}annot")
                splits[split] = list(range(len(self.pairs), len(self.pairs) + len(pairs)))
                self.pairs.extend(pairs)
        missing = {s: self.fractions[s] for s in ("val", "test") if s not in splits}
        splits.update(split_off(splits["train"], missing, self.folds.seed))
        splits = self.folds.apply(splits, [image.name for image, _ in self.pairs])
        self._write_splits(splits)
        if self.decoded_cache:
            settings = {"reader": "segmentation_folders", "in_channels": self.in_channels,
                        "palette": self.palette}  # fmt: skip
            self._decoded = decoded_samples(self.decode, len(self.pairs), self.pairs, settings)
        return {s: splits[s] for s in SPLITS}

    def decode(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``index``'s image and mask, decoded from their files."""
        image_path, mask_path = self.pairs[index]
        return read_image(image_path, self.in_channels), read_mask(mask_path, self.palette)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray, str, str]:
        image_path, mask_path = self.pairs[index]
        decoded = self._decoded.read(index) if self._decoded is not None else self.decode(index)
        image, mask = decoded
        return image, mask, str(image_path), str(mask_path)

    def _write_splits(self, splits: dict[str, list[int]]) -> None:
        where = {i: s for s, indices in splits.items() for i in indices}
        rows = ((i, where[i], image, mask) for i, (image, mask) in enumerate(self.pairs))
        write_split_file(self.splits_file, ["index", "split", "image", "mask"], rows)
