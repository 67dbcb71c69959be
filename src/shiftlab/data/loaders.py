"""Data loaders over a data module's train/val/test datasets (image tasks)."""

from __future__ import annotations

from torch.utils.data import DataLoader


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
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )
