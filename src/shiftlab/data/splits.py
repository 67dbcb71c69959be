"""The split file: which sample went to train, val and test, written to the run directory."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_only


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
