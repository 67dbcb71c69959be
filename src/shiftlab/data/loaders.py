"""Data loaders over a data module's train/val/test datasets (image tasks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, default_collate

# Mask dtypes kept as they are in an item (the batch makes them int64 in one operation).
COMPACT_MASK_TYPES = (np.uint8, np.int16, np.int32, np.int64)


def image_tensor(hwc: np.ndarray) -> torch.Tensor:
    """A C×H×W float32 view of an H×W×C array, without copying it when it is already
    float32 and contiguous (the normalised output of the transforms): the item keeps the
    array's channels-last memory, which is also the memory format the tasks train in."""
    return torch.from_numpy(np.require(hwc, np.float32, ["C"])).permute(2, 0, 1)


def mask_tensor(mask: np.ndarray) -> torch.Tensor:
    """An H×W mask tensor in a compact integer dtype (uint8 for most masks)."""
    dtype = mask.dtype if mask.dtype.type in COMPACT_MASK_TYPES else np.int64
    return torch.from_numpy(np.require(mask, dtype, ["C"]))


def image_collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch image items: images into one channels-last N×C×H×W tensor (one copy of each
    image, no transposition), masks into int64 (the loss functions' dtype) in one operation,
    everything else as PyTorch's default collation does."""
    batch = default_collate([{k: v for k, v in item.items() if k not in ("image", "mask")}
                             for item in items])  # fmt: skip
    images = torch.stack([item["image"].permute(1, 2, 0) for item in items])
    batch["image"] = images.permute(0, 3, 1, 2)
    if "mask" in items[0]:
        batch["mask"] = torch.stack([item["mask"] for item in items]).long()
    return batch


class SplitLoaders:
    """Train, val and test loaders over ``self.datasets[split]``: training shuffles, the
    others keep their order (so the same samples are shown every validation epoch).

    The data module provides ``setup()``, ``datasets``, ``batch_size``, ``num_workers`` and
    ``pin_memory``.
    """

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
