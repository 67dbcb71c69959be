"""Image files on disk: which files are images, and reading one as an array.

Shared by every image data option (class folders, CSV lists, segmentation folders) and by
``predict``; numpy and Pillow only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shiftlab.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_image(path: Path, channels: int) -> np.ndarray:
    """An H×W×channels uint8 array (grey for 1 channel, RGB for 3)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            array = np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataError(
            f"Cannot read image {path}: {err}. The file is corrupt or not an image; replace or "
            "remove it."
        ) from err
    return array[..., None] if array.ndim == 2 else array
