"""Files named inside a list (a CSV row), kept inside the folder the list belongs to."""

from __future__ import annotations

from pathlib import Path, PurePath

from shiftlab.errors import DataError


def listed_file(folder: Path, name: str, where: str, folder_key: str) -> Path:
    """``folder / name`` for a file name read from a list, refusing names that lead out of
    ``folder`` (absolute paths, ``..`` parts, drives).

    A list from elsewhere must not make a run read files outside the folder its user named,
    nor put their paths and contents into the run's reports and pictures. ``where`` says
    where the name was read (file and line), ``folder_key`` which config key names the folder.
    """
    relative = PurePath(name)
    if not name.strip() or relative.is_absolute() or relative.drive or ".." in relative.parts:
        raise DataError(
            f"{where} names {name!r}, which is not a file inside {folder_key} ({folder}): the "
            f"names in the list are relative to {folder_key} and may not leave it (no absolute "
            "paths, no '..'). Fix that row, or move the file into the folder."
        )
    return folder / relative
