"""Datasets, batching and sampling for spectrogram pairs of varying length.

Spectrograms of one dataset may differ in length T. A batch pads them to its longest member
and carries a mask of the real frames, so padded frames count in neither loss nor metrics;
the training sampler groups similar lengths into the same batch, so little compute goes to
padding.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


class SpectrogramPairs(Dataset):
    """Pairs of ``F × T`` input and target spectrograms (T may differ between pairs).

    Items are dicts: ``input`` and ``target`` as ``1 × F × T`` float tensors, and ``index``,
    the position of the pair in the dataset it was drawn from (kept for split files and
    predictions).
    """

    def __init__(
        self,
        inputs: Sequence[np.ndarray],
        targets: Sequence[np.ndarray],
        indices: Sequence[int] | None = None,
    ) -> None:
        if len(inputs) != len(targets):
            raise ValueError(
                f"{len(inputs)} input spectrograms but {len(targets)} targets: each input "
                "needs exactly one target."
            )
        self.inputs = [torch.as_tensor(x, dtype=torch.float32) for x in inputs]
        self.targets = [torch.as_tensor(y, dtype=torch.float32) for y in targets]
        self.indices = list(range(len(inputs))) if indices is None else list(indices)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor | int]:
        return {
            "input": self.inputs[i].unsqueeze(0),
            "target": self.targets[i].unsqueeze(0),
            "index": self.indices[i],
        }

    @property
    def lengths(self) -> list[int]:
        return [x.shape[-1] for x in self.inputs]


def standardisation_statistics(
    inputs: Sequence[torch.Tensor], targets: Sequence[torch.Tensor]
) -> dict[str, float]:
    """``input_mean``, ``input_std``, ``target_mean`` and ``target_std`` over all values of
    the given spectrograms: what tasks that standardise their network's inputs and outputs
    read once, at setup, and keep in the checkpoint."""
    statistics = {}
    for name, arrays in (("input", inputs), ("target", targets)):
        values = torch.cat([a.reshape(-1) for a in arrays]).double()
        statistics[f"{name}_mean"] = float(values.mean())
        statistics[f"{name}_std"] = float(values.std().clamp_min(1e-8))
    return statistics


def pad_collate(items: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Stack items into a batch, zero-padding T to the longest and marking real frames.

    Returns ``input`` and ``target`` (N × C × F × T_max), ``mask`` (N × T_max, True on real
    frames), ``lengths`` (N) and ``index`` (N).
    """
    lengths = torch.tensor([item["input"].shape[-1] for item in items])
    longest = int(lengths.max())
    shape = (len(items), *items[0]["input"].shape[:-1], longest)
    inputs = items[0]["input"].new_zeros(shape)
    targets = items[0]["target"].new_zeros((len(items), *items[0]["target"].shape[:-1], longest))
    for i, item in enumerate(items):
        inputs[i, ..., : lengths[i]] = item["input"]
        targets[i, ..., : lengths[i]] = item["target"]
    mask = torch.arange(longest)[None, :] < lengths[:, None]
    index = torch.tensor([int(item["index"]) for item in items])
    return {"input": inputs, "target": targets, "mask": mask, "lengths": lengths, "index": index}


class LengthGroupedSampler(Sampler[int]):
    """Shuffled order in which each run of ``batch_size`` indices has similar lengths.

    Indices are shuffled and cut into groups of ``batch_size * group_batches``; each group is
    sorted by length and cut into full batches, and the full batches are shuffled. Leftovers
    (fewer than a batch per group) come last, sorted by length. A data loader with the same
    ``batch_size`` therefore sees batches of similar lengths. The order depends only on
    ``seed`` and the epoch (set by Lightning through :meth:`set_epoch`), so a resumed run sees
    the same batches.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int = 0,
        group_batches: int = 32,
    ) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.group_batches = group_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.lengths))
        group = self.batch_size * self.group_batches
        full: list[np.ndarray] = []
        leftovers: list[np.ndarray] = []
        for start in range(0, len(order), group):
            chunk = order[start : start + group]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            n_full = len(chunk) // self.batch_size * self.batch_size
            if n_full:
                full.extend(np.split(chunk[:n_full], n_full // self.batch_size))
            leftovers.append(chunk[n_full:])
        rest = np.concatenate(leftovers)
        rest = rest[np.argsort(self.lengths[rest], kind="stable")]
        for b in rng.permutation(len(full)):
            yield from full[b].tolist()
        yield from rest.tolist()
