"""Train/val/test splits: made reproducibly from a seed, and written to the run directory."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from lightning.pytorch.utilities import rank_zero_only

SPLITS: tuple[str, ...] = ("train", "val", "test")


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
