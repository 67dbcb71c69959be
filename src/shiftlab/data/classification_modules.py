"""LightningDataModules for image classification: class folders, a CSV of labels, and IDX
files (Fashion-MNIST)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import Dataset

from shiftlab.config.schema import check_split_fractions, check_value
from shiftlab.data.decoded_cache import DecodedSamples, decoded_samples
from shiftlab.data.device_normalize import loader_pipelines
from shiftlab.data.file_lists import listed_file
from shiftlab.data.idx_reader import find_idx, read_idx
from shiftlab.data.images import IMAGE_SUFFIXES, check_image_settings, image_files, read_image
from shiftlab.data.loader_settings import loader_workers
from shiftlab.data.loader_settings import pin_memory as pin_memory_default
from shiftlab.data.loaders import SplitLoaders, image_tensor
from shiftlab.data.splits import SPLITS, Folds, split_off, write_split_file
from shiftlab.errors import ConfigError, DataError

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


class LabelledImages(Dataset):
    """Images with a class label each, read lazily and transformed.

    ``read(i)`` returns ``(image H×W×C uint8, label, name)``. Items are dicts: ``image``
    (C×H×W uint8 or float32), ``label`` (int64) and ``index``.
    """

    def __init__(
        self,
        read: Callable[[int], tuple[np.ndarray, int, str]],
        indices: Sequence[int],
        transform: Callable[..., dict[str, Any]],
        image_size: Sequence[int],
    ) -> None:
        self.read = read
        self.indices = list(indices)
        self.transform = transform
        self.image_size = tuple(image_size)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        index = self.indices[i]
        image, label, name = self.read(index)
        out = self.transform(image=image)["image"]
        if out.shape[:2] != self.image_size:
            raise DataError(
                f"Image {name} is {out.shape[1]}×{out.shape[0]} after the transforms, but the "
                f"data is declared as {self.image_size[1]}×{self.image_size[0]} "
                "(data.image_size, height and width). Keep the 'resize' transform in "
                "data.train_transforms / data.eval_transforms, or fix data.image_size."
            )
        return {"image": image_tensor(out), "label": int(label), "index": index}


class ClassificationDataModule(SplitLoaders, L.LightningDataModule):
    """Shared loading for labelled images; subclasses say where samples come from.

    Args:
        image_size: ``[height, width]`` every image has after the transforms (the ``resize``
            transform of the configs makes it so); models infer their head from it.
        in_channels: 1 to read images as grey, 3 as RGB.
        class_names: a fixed list of class names (in label order); ``None`` to take them from
            the data (folder names, CSV labels).
        val_fraction, test_fraction: shares held out when the data has no such split.
        split_seed, splits_file: the seed of that split and where it is written (one row
            per sample), so a run can be repeated on exactly the same partition.
        num_folds, fold, group_by: k-fold cross-validation over train and val, stratified
            by class, grouped by a CSV column or a pattern on file names (see
            :class:`~shiftlab.data.splits.Folds`).
        train_transforms, eval_transforms: named albumentations transforms applied in order.
        normalize_on_device: batches travel as uint8 and the pipelines' final ``normalize``
            step runs on the device (:mod:`shiftlab.data.device_normalize`); ``False`` keeps
            it in the loader (float32 batches).
        mean, std: the normalisation the pipelines apply (one value per channel).
        batch_size, num_workers, pin_memory: data loader settings; ``None`` chooses from the
            machine (:mod:`shiftlab.data.loader_settings`).
    """

    # What the batches hold (see shiftlab.tasks.kinds.SAMPLES): the tasks that train on it.
    provides = "labelled_images"

    def __init__(
        self,
        image_size: Sequence[int] = (28, 28),
        in_channels: int = 1,
        class_names: Sequence[str] | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        split_seed: int = 0,
        splits_file: str | None = None,
        num_folds: int | None = None,
        fold: int = 0,
        group_by: str | None = None,
        train_transforms: Mapping[str, Any] | None = None,
        eval_transforms: Mapping[str, Any] | None = None,
        normalize_on_device: bool = True,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        batch_size: int = 64,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        check_image_settings(in_channels, mean, std)
        check_value("data.batch_size", batch_size)
        check_split_fractions({"val": val_fraction, "test": test_fraction})
        self.image_size = tuple(int(v) for v in image_size)
        self.in_channels = in_channels
        self.class_names: list[str] | None = list(class_names) if class_names else None
        if num_classes is not None and self.class_names and num_classes != len(self.class_names):
            raise ConfigError(
                f"data.num_classes is {num_classes} but data.class_names lists "
                f"{len(self.class_names)} classes."
            )
        self.fractions = {"val": val_fraction, "test": test_fraction}
        self.splits_file = splits_file
        self.folds = Folds(num_folds, fold, split_seed, group_by)
        self.train_transform, self.eval_transform, self.device_normalize = loader_pipelines(
            train_transforms, eval_transforms, normalize_on_device
        )
        self.mean, self.std = mean, std
        self.batch_size = batch_size
        self.num_workers = loader_workers(num_workers)
        self.pin_memory = pin_memory_default(pin_memory)
        self.datasets: dict[str, LabelledImages] | None = None
        self.labels: list[int] = []
        self.names: list[str] = []
        self.columns: dict[str, list[str]] = {}  # a CSV's values per sample, by column

    # -- what subclasses provide ---------------------------------------------------------

    def load(self) -> dict[str, list[int]] | None:
        """Fill ``self.labels``/``self.names`` (one per sample) and ``self.class_names``; return
        the sample indices of the splits the data itself defines (``None``: split them)."""
        raise NotImplementedError

    def read(self, index: int) -> tuple[np.ndarray, int, str]:
        raise NotImplementedError

    def loaded(self) -> None:
        """Called once :meth:`load` has filled the samples (file-based data may prepare its
        reads here)."""

    # -- shared --------------------------------------------------------------------------

    @property
    def num_classes(self) -> int:
        if self.class_names is None:
            self.setup()
        assert self.class_names is not None
        return len(self.class_names)

    @property
    def out_channels(self) -> int:
        return self.num_classes

    def network_facts(self) -> dict[str, Any]:
        """What networks and tasks need to know of this data, known once it is set up."""
        self.setup()
        return {
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "class_names": list(self.class_names or []),
            "image_size": list(self.image_size),
        }

    def setup(self, stage: str | None = None) -> None:
        if self.datasets is not None:
            return
        given = self.load()
        self.loaded()
        splits = self._complete_splits(given)
        for split, indices in splits.items():
            if not indices:
                raise DataError(
                    f"The {split} split is empty; add images or raise data.{split}_fraction."
                )
        self._write_splits(splits)
        self.datasets = {
            split: LabelledImages(
                self.read,
                indices,
                self.train_transform if split == "train" else self.eval_transform,
                self.image_size,
            )
            for split, indices in splits.items()
        }

    def _complete_splits(self, given: dict[str, list[int]] | None) -> dict[str, list[int]]:
        """Split off val (and test, when the data has none) reproducibly, per class; with
        ``data.num_folds``, train and val are this fold's."""
        given = dict(given or {"train": list(range(len(self.labels)))})
        missing = {s: self.fractions[s] for s in ("val", "test") if s not in given}
        given.update(split_off(given["train"], missing, self.folds.seed, self.labels))
        splits = {s: given[s] for s in SPLITS}
        return self.folds.apply(splits, self.names, self.labels, self.columns)

    def _write_splits(self, splits: dict[str, list[int]]) -> None:
        where = {i: s for s, indices in splits.items() for i in indices}
        rows = (
            (i, where[i], self.names[i], self.labels[i], self.class_names[self.labels[i]])
            for i in sorted(where)
        )
        write_split_file(self.splits_file, ["index", "split", "name", "label", "class"], rows)

    def _class_index(self, found: Sequence[str], where: str) -> dict[str, int]:
        """Map class names to labels: the fixed list if given (refusing others), else sorted."""
        if self.class_names is None:
            self.class_names = sorted(set(found))
        else:
            unknown = sorted(set(found) - set(self.class_names))
            if unknown:
                raise DataError(
                    f"{where} has labels {unknown} that are not in data.class_names "
                    f"({', '.join(self.class_names)}). Add them to the list or fix the labels."
                )
        return {name: i for i, name in enumerate(self.class_names)}


class LabelledImageFiles(ClassificationDataModule):
    """Labelled images read from files: subclasses fill ``self.paths`` (one per sample) in
    :meth:`load`, beside the labels and names.

    Args:
        decoded_cache: decode every image once, at set-up, into a memory-mapped file that
            later epochs and runs read (:mod:`shiftlab.data.decoded_cache`).
        Other arguments: see :class:`ClassificationDataModule`.
    """

    def __init__(self, decoded_cache: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.paths: list[Path] = []
        self.decoded_cache = decoded_cache
        self._decoded: DecodedSamples | None = None

    def loaded(self) -> None:
        if self.decoded_cache:
            settings = {"reader": "labelled_image_files", "in_channels": self.in_channels}
            files = [[path] for path in self.paths]
            self._decoded = decoded_samples(self.decode, len(self.paths), files, settings)

    def decode(self, index: int) -> tuple[np.ndarray]:
        """Sample ``index``'s image, decoded from its file."""
        return (read_image(self.paths[index], self.in_channels),)

    def read(self, index: int) -> tuple[np.ndarray, int, str]:
        path = self.paths[index]
        (image,) = self._decoded.read(index) if self._decoded is not None else self.decode(index)
        return image, self.labels[index], str(path)


class ImageFolder(LabelledImageFiles):
    """One sub-folder of images per class under ``root`` (class names from folder names,
    or a fixed ``class_names`` list). Val and test are split off reproducibly."""

    def __init__(self, root: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = Path(root).expanduser()

    def load(self) -> None:
        if not self.root.is_dir():
            raise DataError(
                f"data.root: {self.root} is not a directory. Point it at a folder holding one "
                "sub-folder of images per class."
            )
        folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        if not folders:
            raise DataError(f"data.root: {self.root} holds no class folders.")
        if self.class_names is not None:
            missing = [c for c in self.class_names if not (self.root / c).is_dir()]
            if missing:
                raise DataError(f"data.root: no folder for the classes {missing} in {self.root}.")
            folders = [self.root / c for c in self.class_names]
        index = self._class_index([f.name for f in folders], f"data.root {self.root}")
        for folder in folders:
            files = image_files(folder)
            if not files:
                raise DataError(
                    f"Class folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); add "
                    "images or remove the folder."
                )
            for path in files:
                self.paths.append(path)
                self.labels.append(index[folder.name])
                self.names.append(f"{folder.name}/{path.name}")
        return None


class ImageCSV(LabelledImageFiles):
    """Images in ``images_dir`` and a CSV naming each file and its label.

    Args:
        images_dir: the folder of the images.
        csv_path: the CSV file (a header row, then one row per image).
        file_column, label_column: the CSV's column names (``files`` and ``type`` by default).
        Other arguments: see :class:`ClassificationDataModule`.
    """

    def __init__(
        self,
        images_dir: str,
        csv_path: str,
        file_column: str = "files",
        label_column: str = "type",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.images_dir = Path(images_dir).expanduser()
        self.csv_path = Path(csv_path).expanduser()
        self.file_column = file_column
        self.label_column = label_column

    def load(self) -> None:
        if not self.csv_path.is_file():
            raise DataError(f"data.csv_path: {self.csv_path} does not exist.")
        with self.csv_path.open(newline="") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            for column, key in (
                (self.file_column, "file_column"),
                (self.label_column, "label_column"),
            ):
                if column not in columns:
                    raise DataError(
                        f"{self.csv_path} has no column '{column}' (data.{key}); its columns "
                        f"are {columns}."
                    )
            rows = list(reader)
        if not rows:
            raise DataError(f"{self.csv_path} lists no images.")
        index = self._class_index([r[self.label_column] for r in rows], str(self.csv_path))
        for line, row in enumerate(rows, start=2):
            where = f"{self.csv_path} line {line}"
            path = listed_file(self.images_dir, row[self.file_column], where, "data.images_dir")
            if not path.is_file():
                raise DataError(
                    f"{self.csv_path} line {line} names {row[self.file_column]}, but "
                    f"{path} does not exist. Fix the CSV or data.images_dir."
                )
            self.paths.append(path)
            self.labels.append(index[row[self.label_column]])
            self.names.append(row[self.file_column])
        self.columns = {column: [row.get(column) or "" for row in rows] for column in columns}
        return None


class FashionMNIST(ClassificationDataModule):
    """Fashion-MNIST from its IDX files in ``root`` (``train-*`` and ``t10k-*``, gzipped or
    not). No download: on Debian, ``apt-get install dataset-fashion-mnist``. The test split
    is the official one; val is split off train."""

    def __init__(self, root: str = "/usr/share/datasets/fashion-mnist", **kwargs: Any) -> None:
        kwargs.setdefault("class_names", list(FASHION_MNIST_CLASSES))
        kwargs.setdefault("in_channels", 1)
        super().__init__(**kwargs)
        if self.in_channels != 1:
            raise ConfigError("Fashion-MNIST images are grey: keep data.in_channels=1.")
        self.root = Path(root).expanduser()
        self.images: np.ndarray | None = None

    def load(self) -> dict[str, list[int]]:
        if not self.root.is_dir():
            raise DataError(
                f"data.root: {self.root} does not exist. Install Fashion-MNIST (Debian: "
                "apt-get install dataset-fashion-mnist) or point data.root at its idx files."
            )
        parts = {}
        for prefix in ("train", "t10k"):
            images = read_idx(find_idx(self.root, f"{prefix}-images-idx3-ubyte"))
            labels = read_idx(find_idx(self.root, f"{prefix}-labels-idx1-ubyte"))
            if len(images) != len(labels):
                raise DataError(
                    f"{self.root}: {len(images)} {prefix} images but {len(labels)} labels."
                )
            parts[prefix] = (images, labels)
        self.images = np.concatenate([parts["train"][0], parts["t10k"][0]])[..., None]
        self.labels = np.concatenate([parts["train"][1], parts["t10k"][1]]).astype(int).tolist()
        n_train = len(parts["train"][1])
        self.names = [f"train[{i}]" for i in range(n_train)]
        self.names += [f"t10k[{i}]" for i in range(len(self.labels) - n_train)]
        return {"train": list(range(n_train)), "test": list(range(n_train, len(self.labels)))}

    def read(self, index: int) -> tuple[np.ndarray, int, str]:
        assert self.images is not None
        return self.images[index], self.labels[index], self.names[index]
