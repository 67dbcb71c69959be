"""Read the IDX files of MNIST-style datasets (``train-images-idx3-ubyte[.gz]`` etc.)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from shiftlab.errors import DataError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def find_idx(root: Path, stem: str) -> Path:
    """``root/stem`` or ``root/stem.gz``, whichever exists."""
    for candidate in (root / stem, root / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(
        f"data.root: {root} has no {stem} (or {stem}.gz). Point data.root at the folder of "
        "the idx files; on Debian `apt-get install dataset-fashion-mnist` puts Fashion-MNIST "
        "in /usr/share/datasets/fashion-mnist."
    )


def read_idx(path: Path) -> np.ndarray:
    """The array stored in an IDX file (gzipped or not)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise DataError(f"Cannot read {path}: {err}. The file is damaged; reinstall it.") from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number).")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=_DTYPES[data[2]], offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: expected {shape} values, found {array.size}.")
    return array.reshape(shape)
