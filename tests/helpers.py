"""Test data written the way users keep theirs."""

from __future__ import annotations

import numpy as np


def write_npy_dataset(root, lengths, freq_bins=32, layout="npz"):
    """Write inputs/targets in one of the layouts users keep them in; return the two paths.

    ``npz``: one ``.npz`` per side, one array per key (``np.savez(path, *arrays)``, any
    lengths); ``stack``: one N×F×T ``.npy`` per side (equal lengths); ``folder``: a folder of
    ``.npy`` files per side; ``sequence``: the seed project's pickled object arrays (read
    only with ``allow_pickle=True``).
    """
    rng = np.random.default_rng(0)
    clean = [rng.normal(size=(freq_bins, n)).astype(np.float32) for n in lengths]
    degraded = [c * 0.5 for c in clean]
    root.mkdir(parents=True, exist_ok=True)
    if layout == "npz":
        np.savez(root / "bone.npz", *degraded)
        np.savez(root / "clean.npz", *clean)
        return root / "bone.npz", root / "clean.npz"
    if layout == "sequence":
        for name, arrays in (("bone.npy", degraded), ("clean.npy", clean)):
            seq = np.empty(len(arrays), dtype=object)
            seq[:] = arrays
            np.save(root / name, seq, allow_pickle=True)
        return root / "bone.npy", root / "clean.npy"
    if layout == "stack":
        np.save(root / "bone.npy", np.stack(degraded))
        np.save(root / "clean.npy", np.stack(clean))
        return root / "bone.npy", root / "clean.npy"
    for sub, arrays in (("bone", degraded), ("clean", clean)):
        (root / sub).mkdir()
        for i, a in enumerate(arrays):
            np.save(root / sub / f"{i:03d}.npy", a)
    return root / "bone", root / "clean"


def write_segmentation_folders(root, splits=("train",), count=6, size=(40, 56), classes=3):
    """Write ``<split>/`` images and ``<split>annot/`` index masks whose content encodes the
    file: image i is filled with grey level 10*i and its mask holds class i % classes, so a
    test can check that images and masks were paired by file stem."""
    from PIL import Image

    for split in splits:
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir(parents=True)
        for i in range(count):
            image = np.full((*size, 3), 10 * i, dtype=np.uint8)
            mask = np.full(size, i % classes, dtype=np.uint8)
            mask[: size[0] // 2] = 0
            Image.fromarray(image).save(root / split / f"{split}_{i:02d}.png")
            Image.fromarray(mask).save(root / f"{split}annot" / f"{split}_{i:02d}.png")
    return root


def write_class_folders(root, classes=("cat", "dog", "owl"), per_class=6, size=(20, 30)):
    """``root/<class>/<i>.png``; images of class k are filled with grey level 60*k + i."""
    from PIL import Image

    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            image = np.full((*size, 3), 60 * k + i, dtype=np.uint8)
            Image.fromarray(image).save(root / name / f"{name}_{i}.png")
    return root


def write_idx(path, array):
    """Write ``array`` (uint8) as an IDX file, gzipped when ``path`` ends in .gz."""
    import gzip

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)
