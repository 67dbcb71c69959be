"""Segmentation masks on disk: pair them with their images by file stem, read them as class
indices (index PNGs or colour masks), and check each against its image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shiftlab.data.images import IMAGE_SUFFIXES, image_files
from shiftlab.errors import DataError


def pair_by_stem(image_dir: Path, mask_dir: Path) -> list[tuple[Path, Path]]:
    """Pair every image with the mask of the same file stem; an unpaired image is an error."""
    if not image_dir.is_dir():
        raise DataError(f"{image_dir} is not a directory of images.")
    if not mask_dir.is_dir():
        raise DataError(
            f"{image_dir} has no mask folder: expected {mask_dir} (masks live in "
            f"'<split>annot/', e.g. train/ and trainannot/)."
        )
    masks = {p.stem: p for p in image_files(mask_dir)}
    pairs = []
    for image in image_files(image_dir):
        if image.stem not in masks:
            raise DataError(
                f"Image {image} has no mask: expected {mask_dir / (image.stem + '.png')}. Add "
                "the mask or move the image out of the dataset."
            )
        pairs.append((image, masks[image.stem]))
    if not pairs:
        raise DataError(f"{image_dir} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
    for image, mask in pairs:
        check_sizes(image, mask)
    return pairs


def check_sizes(image: Path, mask: Path) -> None:
    """Refuse, at launch, a file that is not an image or a mask of another size than its image.

    Reads the headers only (no pixels), so a large dataset is checked in seconds instead of
    failing hours into training when the sampler first reaches the bad file.
    """
    from PIL import Image, UnidentifiedImageError

    sizes = []
    for path, what in ((image, "image"), (mask, "mask")):
        try:
            with Image.open(path) as img:
                sizes.append(img.size)
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise DataError(
                f"Cannot read {what} {path}: {err}. The file is corrupt or not an image; "
                "replace or remove it."
            ) from err
    if sizes[0] != sizes[1]:
        raise mask_size_error(str(image), sizes[0], str(mask), sizes[1])


def mask_size_error(
    image: str, image_size: tuple[int, int], mask: str, mask_size: tuple[int, int]
) -> DataError:
    """The error for a mask of another size than its image (sizes as width, height)."""
    (iw, ih), (mw, mh) = image_size, mask_size
    return DataError(
        f"Mask {mask} is {mw}×{mh} but its image {image} is {iw}×{ih} (width×height); a mask "
        "must match its image."
    )


def read_mask(path: Path, palette: Sequence[Sequence[int]] | None) -> np.ndarray:
    """An H×W array of class indices, from an index PNG or (with a palette) an RGB mask.

    An index PNG keeps its own integer dtype (uint8 for modes L and P, the common case): the
    checks, flips and crops after it then move one byte a pixel, not the eight of int64, and
    the loader sends masks as uint8 anyway (int64 is made on the device)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if palette is None:
                if img.mode not in ("L", "P", "I", "I;16", "1"):
                    raise DataError(
                        f"Mask {path} is a {img.mode} image; masks must hold class indices "
                        "(mode L or P), or give the class colours as data.palette."
                    )
                indices = np.array(img)  # a writable copy (torch takes it without a warning)
                return indices.astype(np.uint8) if indices.dtype == bool else indices
            rgb = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataError(f"Cannot read mask {path}: {err}. Replace or remove it.") from err
    return _colours_to_indices(rgb, palette, path)


def _colours_to_indices(rgb: np.ndarray, palette: Sequence[Sequence[int]], path: Path):
    colours = np.asarray(palette, dtype=np.int64)
    flat = rgb.reshape(-1, 3).astype(np.int64)
    codes = flat @ np.array([65536, 256, 1])
    table = colours @ np.array([65536, 256, 1])
    order = np.argsort(table)
    pos = np.searchsorted(table[order], codes)
    pos = np.clip(pos, 0, len(table) - 1)
    found = table[order][pos] == codes
    if not found.all():
        bad = flat[~found][0].tolist()
        raise DataError(
            f"Mask {path} has the colour {tuple(bad)}, which is not in data.palette. Add it to "
            "the palette (one RGB colour per class, in class order) or fix the mask."
        )
    return order[pos].reshape(rgb.shape[:2]).astype(np.int64)


def check_pair(
    image: np.ndarray,
    mask: np.ndarray,
    num_classes: int,
    ignore_index: int | None,
    image_name: str,
    mask_name: str,
) -> None:
    """Refuse a mask of another size than its image, or with values outside the classes."""
    if image.shape[:2] != mask.shape[:2]:
        image_size, mask_size = image.shape[1::-1], mask.shape[1::-1]
        raise mask_size_error(image_name, image_size, mask_name, mask_size)
    unsigned = mask.dtype.kind in "ub"  # (index PNGs): no value below 0 to look for
    if mask.size == 0 or ((unsigned or mask.min() >= 0) and mask.max() < num_classes):
        return  # the common case, in one or two passes (np.unique sorts: 10x slower)
    values = np.unique(mask)
    valid = (values >= 0) & (values < num_classes)
    if ignore_index is not None:
        valid |= values == ignore_index
    if not valid.all():
        raise DataError(
            f"Mask {mask_name} holds class values {values[~valid].tolist()} outside 0–"
            f"{num_classes - 1} (data.num_classes={num_classes}). Fix the mask, raise "
            "data.num_classes, or mark such pixels with data.ignore_index."
        )
