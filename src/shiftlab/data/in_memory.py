"""Files that exist only in memory: the uploads ``shiftlab serve`` reads.

The readers of images, ``.npy`` spectrograms and sound take either a path or an
:class:`InMemoryFile`; PIL, numpy and soundfile read the latter like an open file. Reading
from memory spares every request a temporary file (creating and removing one cost more than
decoding a small image), and nothing a client sends ever becomes a path on the server: the
name is only for messages.
"""

from __future__ import annotations

import io
import os
from pathlib import Path, PurePath
from typing import BinaryIO


class InMemoryFile(io.BytesIO):
    """The bytes of one file and the name it came with (a label in messages, never opened).

    ``str()`` gives the name, so the readers' messages ("Cannot read image photo.png: ...")
    read the same for an upload as for a file on disk.
    """

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = PurePath(name).name  # any folders a client put in the name are dropped

    @property
    def suffix(self) -> str:
        return PurePath(self.name).suffix

    def __str__(self) -> str:
        return self.name


Source = Path | InMemoryFile  # what the readers of inputs accept


def openable(source: str | os.PathLike | InMemoryFile) -> str | BinaryIO:
    """What a library's reader takes: the path as a string, or the in-memory file rewound."""
    if isinstance(source, InMemoryFile):
        source.seek(0)
        return source
    return str(source)


def label(source: str | os.PathLike | InMemoryFile) -> Path:
    """A path-like label for where data came from (an upload's is its bare name)."""
    return Path(str(source))
