"""Read spectrograms from ``.npy`` files in the seed project's format.

A path may be one ``.npy`` file or a directory of them (read in name order). Each file holds
one ``F × T`` array, an ``N × F × T`` array, or a sequence of ``F × T`` arrays of different T
(saved as an object array: ``np.save(path, np.array(list_of_arrays, dtype=object))``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shiftlab.errors import DataError


@dataclass(frozen=True)
class Spectrograms:
    """Spectrograms read from disk, each ``F × T`` float32, with where each came from."""

    arrays: list[np.ndarray]
    sources: list[str]  # "file.npy[i]" for each array, for error messages and split files


def npy_files(path: str | Path, key: str) -> list[Path]:
    """The ``.npy`` files a config path names (a file, or a directory of files)."""
    path = Path(path).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(path.glob("*.npy"))
        if not files:
            raise DataError(
                f"{key}: the directory {path} holds no .npy files. Point {key} at "
                "a .npy file or a directory of them."
            )
        return files
    raise DataError(
        f"{key}: {path} does not exist. Point {key} at a .npy file or a directory of .npy "
        f"files (e.g. {key}=/data/inputs.npy); relative paths start from the directory you "
        "launch from."
    )


def read_spectrograms(path: str | Path, key: str) -> Spectrograms:
    """Read every spectrogram under ``path``; ``key`` names the config key in errors."""
    arrays: list[np.ndarray] = []
    sources: list[str] = []
    for file in npy_files(path, key):
        for i, array in enumerate(_arrays_in(file, key)):
            arrays.append(array)
            sources.append(f"{file.name}[{i}]")
    return Spectrograms(arrays, sources)


def _arrays_in(file: Path, key: str) -> list[np.ndarray]:
    try:
        data = np.load(file, allow_pickle=False)
    except ValueError:
        # Sequences of arrays of different lengths can only be stored as pickled object
        # arrays; the user named this file in their own config, so we read it as such.
        data = np.load(file, allow_pickle=True)
    except OSError as err:
        raise DataError(
            f"{key}: cannot read {file} as a .npy file ({err}). Save spectrograms with numpy.save."
        ) from err
    if data.dtype == object:
        items = [np.asarray(item) for item in data.reshape(-1)]
    elif data.ndim == 2:
        items = [data]
    elif data.ndim == 3:
        items = list(data)
    else:
        raise DataError(
            f"{key}: {file} holds an array of shape {data.shape}; expected one F×T "
            "spectrogram, an N×F×T stack, or a sequence of F×T arrays."
        )
    for i, item in enumerate(items):
        if item.ndim != 2 or not np.issubdtype(item.dtype, np.number):
            raise DataError(
                f"{key}: item {i} of {file} has shape {item.shape} and dtype {item.dtype}; "
                "every spectrogram must be a numeric F×T array."
            )
    return [np.ascontiguousarray(item, dtype=np.float32) for item in items]
