"""Image files on disk: which files are images, and reading one as an array.

Shared by every image data option (class folders, CSV lists, segmentation folders) and by
``predict``; numpy and Pillow only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shiftlab.data.in_memory import Source, openable
from shiftlab.errors import ConfigError, DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_image(path: Source, channels: int) -> np.ndarray:
    """An H×W×channels uint8 array (grey for 1 channel, RGB for 3), from a file on disk or
    in memory."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(openable(path)) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            array = np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataError(
            f"Cannot read image {path}: {err}. The file is corrupt or not an image; replace or "
            "remove it."
        ) from err
    return array[..., None] if array.ndim == 2 else array


def check_image_settings(
    in_channels: int, mean: Sequence[float] | None, std: Sequence[float] | None
) -> None:
    """Images are read grey (1 channel) or RGB (3), normalised with one value per channel."""
    if in_channels not in (1, 3):
        raise ConfigError(f"data.in_channels must be 1 (grey) or 3 (RGB), got {in_channels}.")
    for key, values in (("mean", mean), ("std", std)):
        if values is not None and len(values) != in_channels:
            raise ConfigError(
                f"data.{key} has {len(values)} values for {in_channels}-channel images; "
                f"give one per channel (e.g. data.{key}=[0.5] for grey images)."
            )
