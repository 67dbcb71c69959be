"""Data loaders over a data module's train/val/test datasets (image tasks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, default_collate

from shiftlab.data.device_normalize import DeviceNormalize, to_float_batch

# Mask dtypes kept as they are in an item and its batch (made int64 on the device).
COMPACT_MASK_TYPES = (np.uint8, np.int16, np.int32, np.int64)


def image_tensor(hwc: np.ndarray) -> torch.Tensor:
    """A C×H×W view of an H×W×C array, uint8 (left for the device to normalise) or float32,
    without copying it when it is already contiguous and writable: the item keeps the array's
    channels-last memory, which is also the memory format the tasks train in."""
    dtype = np.uint8 if hwc.dtype == np.uint8 else np.float32
    return torch.from_numpy(np.require(hwc, dtype, ["C", "W"])).permute(2, 0, 1)


def mask_tensor(mask: np.ndarray, fits_uint8: bool = False) -> torch.Tensor:
    """An H×W mask tensor in a compact integer dtype: uint8 when ``fits_uint8`` (every value
    is known to lie in 0–255, as checked masks of up to 256 classes do), else the mask's own
    integer dtype."""
    if fits_uint8:
        dtype = np.uint8
    else:
        dtype = mask.dtype if mask.dtype.type in COMPACT_MASK_TYPES else np.int64
    return torch.from_numpy(np.require(mask, dtype, ["C", "W"]))  # (a cached mask is read-only)


def image_collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch image items: images into one channels-last N×C×H×W tensor (one copy of each
    image, no transposition), masks in their compact dtype (made int64, the loss functions'
    dtype, on the device by :meth:`SplitLoaders.on_device`: 8× fewer bytes to move),
    everything else as PyTorch's default collation does."""
    batch = default_collate([{k: v for k, v in item.items() if k not in ("image", "mask")}
                             for item in items])  # fmt: skip
    images = torch.stack([item["image"].permute(1, 2, 0) for item in items])
    batch["image"] = images.permute(0, 3, 1, 2)
    if "mask" in items[0]:
        batch["mask"] = torch.stack([item["mask"] for item in items])
    return batch


class SplitLoaders:
    """Train, val and test loaders over ``self.datasets[split]``: training shuffles, the
    others keep their order (so the same samples are shown every validation epoch).

    The data module provides ``setup()``, ``datasets``, ``batch_size``, ``num_workers``,
    ``pin_memory`` and ``device_normalize`` (see :mod:`shiftlab.data.device_normalize`):
    batches of uint8 images are normalised once on the device, in Lightning's
    ``on_after_batch_transfer`` hook. Code that iterates the loaders itself finishes a batch
    with :meth:`on_device`.
    """

    device_normalize: DeviceNormalize | None = None

    def on_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        """A batch already on its device as the task takes it: images normalised float32,
        masks int64."""
        if isinstance(batch, dict) and isinstance(batch.get("image"), torch.Tensor):
            batch["image"] = to_float_batch(batch["image"], self.device_normalize)
        if isinstance(batch, dict) and isinstance(batch.get("mask"), torch.Tensor):
            batch["mask"] = batch["mask"].long()
        return batch

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return self.on_device(batch)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        self.setup()
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            collate_fn=image_collate,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )
