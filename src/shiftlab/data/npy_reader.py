"""Read spectrograms from NumPy files, without ever running code stored in a file.

A path may be one file or a directory of them (read in name order), each one of:

- ``.npy`` with one ``F × T`` array, or an ``N × F × T`` stack of equal lengths;
- ``.npz`` with one ``F × T`` array per key (``np.savez(path, *arrays)``), the safe way to
  keep spectrograms of different lengths in one file (read in the file's key order);
- ``.npy`` with a pickled object array (``np.save(path, np.array(arrays, dtype=object))``),
  the seed project's format for different lengths, read only with ``allow_pickle=True``:
  unpickling runs whatever code the file holds, so it is for files you made yourself.

A file that is not a NumPy file at all (a pickle renamed ``.npy``, say) is refused whatever
``allow_pickle`` says; archive members are read in memory, never extracted to disk.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shiftlab.data.in_memory import InMemoryFile, Source, openable
from shiftlab.errors import DataError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
SUFFIXES = (".npy", ".npz")
SAFE_FORMATS = (
    "save each spectrogram as its own .npy in one folder, or all of them in one .npz "
    "(np.savez(path, *arrays): one array per key, any lengths)"
)


@dataclass(frozen=True)
class Spectrograms:
    """Spectrograms read from disk, each ``F × T`` float32, with where each came from."""

    arrays: list[np.ndarray]
    sources: list[str]  # "file.npy[i]" or "file.npz[key]", for error messages and split files


def npy_files(path: str | Path, key: str) -> list[Path]:
    """The ``.npy`` and ``.npz`` files a config path names (a file, or a directory of files)."""
    path = Path(path).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise DataError(
                f"{key}: the directory {path} holds no .npy or .npz files. Point {key} at "
                "a .npy/.npz file or a directory of them."
            )
        return files
    raise DataError(
        f"{key}: {path} does not exist. Point {key} at a .npy or .npz file or a directory of "
        f"them (e.g. {key}=/data/inputs.npy); relative paths start from the directory you "
        "launch from."
    )


def read_spectrograms(path: str | Path, key: str, allow_pickle: bool = False) -> Spectrograms:
    """Read every spectrogram under ``path``; ``key`` names the config key in errors."""
    arrays: list[np.ndarray] = []
    sources: list[str] = []
    for file in npy_files(path, key):
        for name, array in _arrays_in(file, key, allow_pickle):
            arrays.append(array)
            sources.append(f"{file.name}[{name}]")
    return Spectrograms(arrays, sources)


def load_npy(path: Source, what: str, allow_pickle: bool = False) -> np.ndarray:
    """The array of one ``.npy`` file (on disk or in memory). Pickled content is loaded only
    with ``allow_pickle``, and only inside a real ``.npy`` file; anything unreadable gets one
    :class:`DataError`."""
    if not _starts_with(path, NPY_MAGIC, what):
        raise _not_numpy(path, what, ".npy")
    try:
        return np.load(openable(path), allow_pickle=allow_pickle)
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise _pickled(path, what) from None
        raise _unreadable(path, what, err) from None
    except (OSError, EOFError) as err:
        raise _unreadable(path, what, err) from None


def _arrays_in(file: Path, key: str, allow_pickle: bool) -> list[tuple[str, np.ndarray]]:
    if file.suffix.lower() == ".npz":
        items = _npz_arrays(file, key)
    else:
        data = load_npy(file, key, allow_pickle)
        if data.dtype == object:
            items = [(str(i), np.asarray(item)) for i, item in enumerate(data.reshape(-1))]
        elif data.ndim == 2:
            items = [("0", data)]
        elif data.ndim == 3:
            items = [(str(i), item) for i, item in enumerate(data)]
        else:
            raise DataError(
                f"{key}: {file} holds an array of shape {data.shape}; expected one F×T "
                "spectrogram, an N×F×T stack, or several F×T arrays of any length in an .npz."
            )
    for name, item in items:
        if item.ndim != 2 or not np.issubdtype(item.dtype, np.number):
            raise DataError(
                f"{key}: item {name} of {file} has shape {item.shape} and dtype {item.dtype}; "
                "every spectrogram must be a numeric F×T array."
            )
    return [(name, np.ascontiguousarray(item, dtype=np.float32)) for name, item in items]


def _npz_arrays(file: Path, key: str) -> list[tuple[str, np.ndarray]]:
    """One array per key of an ``.npz`` archive, read in memory (members never extracted)."""
    if not _starts_with(file, ZIP_MAGIC, key):
        raise _not_numpy(file, key, ".npz")
    items = []
    try:
        with np.load(file, allow_pickle=False) as archive:
            for name in archive.files:
                array = archive[name]
                if not isinstance(array, np.ndarray):
                    raise DataError(
                        f"{key}: member {name!r} of {file} is not a NumPy array; an .npz for "
                        "shiftlab holds only arrays (np.savez(path, *arrays))."
                    )
                items.append((name, array))
    except DataError:
        raise
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise _pickled(file, key) from None
        raise _unreadable(file, key, err) from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise _unreadable(file, key, err) from None
    if not items:
        raise DataError(f"{key}: {file} holds no arrays; {SAFE_FORMATS}.")
    return items


def _starts_with(path: Source, magic: bytes, what: str) -> bool:
    if isinstance(path, InMemoryFile):
        return path.getvalue()[: len(magic)] == magic
    try:
        with path.open("rb") as f:
            return f.read(len(magic)) == magic
    except OSError as err:
        raise _unreadable(path, what, err) from None


def _not_numpy(path: Path, what: str, suffix: str) -> DataError:
    return DataError(
        f"{what}: {path} is not a NumPy {suffix} file (it lacks NumPy's file header); it may be "
        "a pickle or another format under a NumPy name, and shiftlab never unpickles such "
        f"files, since that would run code stored in them. Save spectrograms with numpy: "
        f"{SAFE_FORMATS}."
    )


def _pickled(path: Path, what: str) -> DataError:
    return DataError(
        f"{what}: {path} holds a pickled object array (e.g. spectrograms of different lengths "
        "saved with np.array(arrays, dtype=object)). Unpickling runs whatever code the file "
        "holds, so shiftlab reads such files only when asked: if you made this file yourself "
        f"and trust it, add data.allow_pickle=true. Safer: {SAFE_FORMATS}."
    )


def _unreadable(path: Path, what: str, err: BaseException) -> DataError:
    return DataError(
        f"{what}: cannot read {path} ({type(err).__name__}: {err}). The file is truncated or "
        f"damaged; write it again with numpy ({SAFE_FORMATS}), or remove it."
    )
