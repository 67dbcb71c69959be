"""Decoded images kept on disk and memory-mapped: each file decoded once, then read as arrays.

Reading a 256×256 PNG costs ~1.7 ms of decoding and a JPEG ~0.9 ms, every epoch, against
~0.25 ms for everything else an item's pipeline does (`bench/data_pipeline.py`): from files a
core feeds ~500 images a second, from decoded arrays over 4,000. With ``data.decoded_cache:
true`` a file-based image data option decodes every sample once, with the same reader and
the same checks, into one flat file under ``~/.cache/shiftlab/decoded`` (``SHIFTLAB_CACHE_DIR``
moves it), as FFCV and DALI pipelines do with their own formats; every epoch after, and every
later run on the same files, reads each item as a view of that memory-mapped file. Memory
stays bounded however large the corpus: the build writes item by item and the reads go
through the page cache, which the system frees as it needs.

The cache is keyed by every file's path, size and modification time and by the settings that
change what a read returns (channels, palette): an edited, added or removed file makes a new
one (old ones stay until deleted; ``shiftlab`` never deletes a user's cache). The build goes to
a temporary folder renamed into place once complete, so runs racing for the same cache (DDP
ranks, sweep jobs) each see a whole one, and a file that cannot be read stops the build with
the reader's own error and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from shiftlab.errors import DataError
from shiftlab.machine import available_cores, cache_home

log = logging.getLogger(__name__)

FORMAT = 1  # bumped when the layout below changes: older caches are then not read
ALIGN = 64  # each array starts on a cache line
MAX_DIMS = 4


def cache_root() -> Path:
    return cache_home() / "decoded"


def fingerprint(files: Iterable[Sequence[Path]], settings: Mapping[str, Any]) -> str:
    """A key for the decoded samples of ``files`` (each sample's files, in sample order) read
    with ``settings``: it changes when any file's path, size or modification time does."""
    digest = hashlib.sha256(f"shiftlab-decoded/{FORMAT}\n".encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for sample in files:
        for path in sample:
            stat = Path(path).stat()
            digest.update(f"\n{Path(path).resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
        digest.update(b"\n--")
    return digest.hexdigest()[:24]


class DecodedSamples:
    """The samples of one cache folder: ``read(i)`` gives sample ``i``'s arrays as its decoder
    gave them, as read-only views of the memory-mapped file (transforms copy what they
    change)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        meta = json.loads((folder / "meta.json").read_text())
        self.dtypes = [np.dtype(d) for d in meta["dtypes"]]
        index = np.load(folder / "index.npz")
        self.offsets, self.codes, self.shapes = index["offsets"], index["codes"], index["shapes"]
        self._data: np.memmap | None = None

    def __len__(self) -> int:
        return len(self.offsets)

    def __getstate__(self) -> dict[str, Any]:
        # a loader worker started by spawn maps the file itself, not a pickled copy of it
        return {**self.__dict__, "_data": None}

    def read(self, i: int) -> tuple[np.ndarray, ...]:
        if self._data is None:  # mapped at first read (a loader worker inherits it, read-only)
            self._data = np.memmap(self.folder / "data.bin", dtype=np.uint8, mode="r")
        return tuple(
            np.ndarray(
                tuple(int(d) for d in shape if d >= 0), self.dtypes[code], self._data, int(offset)
            )
            for code, offset, shape in zip(self.codes[i], self.offsets[i], self.shapes[i],
                                           strict=True)
        )  # fmt: skip


def decoded_samples(
    decode: Callable[[int], tuple[np.ndarray, ...]],
    count: int,
    files: Iterable[Sequence[Path]],
    settings: Mapping[str, Any],
    threads: int | None = None,
) -> DecodedSamples:
    """The cache of samples ``0 … count-1`` as ``decode`` gives them (a tuple of arrays each),
    built now where it does not exist yet (on ``threads`` threads: the image libraries
    release the GIL while they decode)."""
    root = cache_root()
    folder = root / fingerprint(files, settings)
    if _complete(folder):
        return DecodedSamples(folder)
    if folder.exists():  # a folder someone emptied in part: made again
        shutil.rmtree(folder, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        _write(decode, count, work, threads or available_cores())
        try:
            os.replace(work, folder)
        except OSError:  # another process finished the same cache first: use that one
            if not _complete(folder):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size = (folder / "data.bin").stat().st_size
    log.info("Decoded %d samples once into %s (%.0f MB) in %.1f s; later epochs and runs "
             "read them from there.", count, folder, size / 2**20,
             time.perf_counter() - started)  # fmt: skip
    return DecodedSamples(folder)


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ("meta.json", "index.npz", "data.bin"))


def _write(
    decode: Callable[[int], tuple[np.ndarray, ...]], count: int, work: Path, threads: int
) -> None:
    """Decode the samples in order (``threads`` at a time, in chunks, so that memory holds at
    most a chunk of decoded samples) into ``work``."""
    dtypes: list[str] = []  # the dtypes met, by code
    places = 0
    offsets = np.zeros((count, 0), dtype=np.int64)
    codes = np.zeros((count, 0), dtype=np.int8)
    shapes = np.zeros((count, 0, MAX_DIMS), dtype=np.int64)
    position = 0
    chunk = 64 * threads
    with open(work / "data.bin", "wb") as data, ThreadPoolExecutor(threads) as pool:
        for first in range(0, count, chunk):
            decoded = pool.map(decode, range(first, min(first + chunk, count)))
            for i, sample in enumerate(decoded, start=first):
                arrays = [np.ascontiguousarray(a) for a in sample]
                if i == 0:
                    places = len(arrays)
                    offsets = np.zeros((count, places), dtype=np.int64)
                    codes = np.zeros((count, places), dtype=np.int8)
                    shapes = np.full((count, places, MAX_DIMS), -1, dtype=np.int64)
                if len(arrays) != places or any(a.ndim > MAX_DIMS for a in arrays):
                    raise DataError(
                        f"data.decoded_cache: sample {i} decodes to {len(arrays)} arrays of "
                        f"ranks {[a.ndim for a in arrays]}, sample 0 to {places} (at most "
                        f"{MAX_DIMS} dimensions each); set data.decoded_cache=false for this data."
                    )
                for place, array in enumerate(arrays):
                    if array.dtype.str not in dtypes:
                        dtypes.append(array.dtype.str)
                    position += -position % ALIGN
                    data.seek(position)
                    data.write(array.data)
                    offsets[i, place] = position
                    codes[i, place] = dtypes.index(array.dtype.str)
                    shapes[i, place, : array.ndim] = array.shape
                    position += array.nbytes
        data.truncate(max(position, 1))
    np.savez(work / "index.npz", offsets=offsets, codes=codes, shapes=shapes)
    (work / "meta.json").write_text(json.dumps({"format": FORMAT, "dtypes": dtypes}))
