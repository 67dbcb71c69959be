"""Loaders for data modules whose items are drawn anew each epoch (random crops, fresh
degradations): the training order and every item follow ``(seed, epoch)``, so a run repeats
and a resumed run continues as it would have, in any number of workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset, Sampler


def epoch_item(key: int | tuple[int, int], indices: Sequence[int]) -> tuple[int, int, int]:
    """(item index, epoch, repeat) of a dataset key: ``(position, epoch)`` from
    :class:`EpochSampler` in training (positions past ``len(indices)`` are repeats of the
    same items, drawn differently), a plain position (epoch 0) in evaluation."""
    position, epoch = key if isinstance(key, tuple) else (key, 0)
    repeat, position = divmod(position, len(indices))
    return indices[position], epoch, repeat


class EpochSampler(Sampler[tuple[int, int]]):
    """A shuffled order of ``(position, epoch)`` keys, drawn from ``(seed, epoch)``; Lightning
    sets the epoch (:meth:`set_epoch`) before each one, so a resumed run sees the same order."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        return iter([(int(i), self.epoch) for i in order])


class EpochLoaders:
    """Train, val and test loaders over ``self.datasets[split]``: training in
    :class:`EpochSampler` order, the others in their own (the same samples every validation
    epoch).

    The data module provides ``setup()``, ``datasets``, ``seed``, ``batch_size``,
    ``eval_batch_size``, ``num_workers`` and ``pin_memory``; ``collate`` batches items
    (None: PyTorch's default).
    """

    collate: Callable[[Sequence[Any]], Any] | None = None
    datasets: dict[str, Any] | None
    seed: int
    batch_size: int
    eval_batch_size: int
    num_workers: int
    pin_memory: bool

    def train_dataloader(self) -> DataLoader:
        dataset = self._split("train")
        return self._loader(dataset, self.batch_size, EpochSampler(len(dataset), self.seed))

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._split("val"), self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._split("test"), self.eval_batch_size)

    def _split(self, split: str) -> Any:
        self.setup()  # type: ignore[attr-defined]
        assert self.datasets is not None
        return self.datasets[split]

    def _loader(self, dataset: Dataset, batch_size: int, sampler=None) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            shuffle=False,
            collate_fn=type(self).collate,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )
