"""Train/val/test splits: made reproducibly from a seed, and written to the run directory."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from lightning.pytorch.utilities import rank_zero_only

from shiftlab.errors import ConfigError, DataError

SPLITS: tuple[str, ...] = ("train", "val", "test")


def consecutive_splits(counts: dict[str, int]) -> dict[str, list[int]]:
    """Synthetic data's splits: item indices ``[0, train)``, then val, then test, so item
    ``i`` is the same in every run and every split size keeps the others' items."""
    splits, start = {}, 0
    for split in SPLITS:
        splits[split] = list(range(start, start + int(counts[split])))
        start += int(counts[split])
    return splits


def split_off(
    pool: Sequence[int],
    fractions: dict[str, float],
    seed: int,
    labels: Sequence[int] | None = None,
) -> dict[str, list[int]]:
    """Hold out ``round(n * fraction)`` samples of ``pool`` for each named split; the rest
    stays in ``train``. With ``labels`` the split is stratified (each class is split on its
    own, so every class appears in every split). Depends only on ``seed``.
    """
    rng = np.random.default_rng(seed)
    pool = np.asarray(pool, dtype=int)
    strata = np.zeros(len(pool), dtype=int) if labels is None else np.asarray(labels)[pool]
    held: dict[str, list[int]] = {name: [] for name in fractions}
    keep = np.ones(len(pool), dtype=bool)
    for stratum in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == stratum))
        start = 0
        for name, fraction in fractions.items():
            count = round(len(members) * fraction)
            chosen = members[start : start + count]
            held[name].extend(pool[chosen].tolist())
            keep[chosen] = False
            start += count
    return {"train": sorted(pool[keep].tolist()), **{k: sorted(v) for k, v in held.items()}}


@rank_zero_only
def write_split_file(
    path: str | None, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """Write one CSV row per sample (``index, split, ...``), once per run (rank zero).

    ``path`` None writes nothing. The file lets a user check a split, and repeat a run on
    exactly the same partition.
    """
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


@dataclass(frozen=True)
class Folds:
    """k-fold cross-validation over the samples outside the test split.

    With ``num_folds`` set, the test split stays as the data made it (held out, the same in
    every fold) and train and val are pooled and divided into ``num_folds`` folds, drawn
    from ``seed``: fold ``fold`` is the validation split, the others train. Folds are
    stratified by class when labels are given, and never split a group (``group_by``: a
    column of the data's CSV, or a regular expression on sample names such as
    ``^(spk\\d+)_`` for a speaker prefix; its first group, or the whole match, names the
    group).
    """

    num_folds: int | None = None
    fold: int = 0
    seed: int = 0
    group_by: str | None = None

    def __post_init__(self) -> None:
        if self.num_folds is None:
            if self.group_by is not None:
                raise ConfigError(
                    "data.group_by groups samples into folds; set data.num_folds too (e.g. "
                    "data.num_folds=5)."
                )
            return
        if int(self.num_folds) < 2:
            raise ConfigError(f"data.num_folds={self.num_folds}: k-fold needs at least 2 folds.")
        if not 0 <= int(self.fold) < int(self.num_folds):
            raise ConfigError(
                f"data.fold={self.fold} with data.num_folds={self.num_folds}: a fold is 0 to "
                f"{int(self.num_folds) - 1} (sweep them with 'data.fold=range({self.num_folds})')."
            )

    def apply(
        self,
        splits: dict[str, list[int]],
        names: Sequence[str],
        labels: Sequence[int] | None = None,
        columns: dict[str, Sequence[str]] | None = None,
    ) -> dict[str, list[int]]:
        """``splits`` with train and val redrawn as this fold's (unchanged without folds).
        ``names`` name every sample (for ``group_by`` patterns); ``columns`` are the CSV's
        values per sample, by column name."""
        if self.num_folds is None:
            return splits
        pool = sorted([*splits["train"], *splits["val"]])
        groups = self.groups(names, columns)
        assignment = fold_assignment(pool, int(self.num_folds), self.seed, labels, groups)
        val = sorted(i for i in pool if assignment[i] == self.fold)
        train = sorted(i for i in pool if assignment[i] != self.fold)
        if not val or not train:
            raise DataError(
                f"Fold {self.fold} of {self.num_folds} leaves "
                f"{'no validation' if not val else 'nothing to train on'}: {len(pool)} "
                "samples (or their groups) outside the test split are too few; lower "
                "data.num_folds."
            )
        return {**splits, "train": train, "val": val}

    def groups(
        self, names: Sequence[str], columns: dict[str, Sequence[str]] | None
    ) -> list[str] | None:
        if self.group_by is None:
            return None
        if columns and self.group_by in columns:
            return [str(v) for v in columns[self.group_by]]
        try:
            pattern = re.compile(self.group_by)
        except re.error as err:
            raise ConfigError(
                f"data.group_by={self.group_by!r} is neither a column of the data's CSV nor a "
                f"regular expression ({err})."
            ) from None
        found = []
        for name in names:
            match = pattern.search(name)
            if match is None:
                raise DataError(
                    f"data.group_by={self.group_by!r} does not match the sample {name!r}; every "
                    "sample needs a group (e.g. data.group_by='^([^_]+)_' for a prefix)."
                )
            found.append(match.group(1) if match.groups() else match.group(0))
        return found


def fold_assignment(
    pool: Sequence[int],
    num_folds: int,
    seed: int,
    labels: Sequence[int] | None = None,
    groups: Sequence[str] | None = None,
) -> dict[int, int]:
    """The fold (0 to ``num_folds - 1``) of every index in ``pool``, drawn from ``seed``.

    Without groups, each class (or the whole pool) is shuffled and dealt round-robin, so
    folds differ in size by one at most per class. With groups, whole groups are dealt,
    largest first, each to the fold that has fewest samples so far (ties in shuffled order).
    """
    rng = np.random.default_rng([seed, 17])
    pool = list(pool)
    if groups is not None:
        members: dict[str, list[int]] = {}
        for index in pool:
            members.setdefault(groups[index], []).append(index)
        names = list(members)
        rng.shuffle(names)
        names.sort(key=lambda g: -len(members[g]))  # stable: shuffled order among equals
        sizes = [0] * num_folds
        assignment = {}
        for name in names:
            fold = min(range(num_folds), key=lambda f: (sizes[f], f))
            sizes[fold] += len(members[name])
            for index in members[name]:
                assignment[index] = fold
        return assignment
    strata = np.zeros(len(pool), dtype=int) if labels is None else np.asarray(labels)[pool]
    assignment = {}
    offset = 0
    for stratum in np.unique(strata):
        chosen = [pool[i] for i in rng.permutation(np.flatnonzero(strata == stratum))]
        for k, index in enumerate(chosen):
            assignment[index] = (k + offset) % num_folds
        offset += len(chosen)  # the next class starts where this one ended: even fold sizes
    return assignment
