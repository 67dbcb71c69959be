"""Test data written the way users keep theirs."""

from __future__ import annotations

import numpy as np


def write_npy_dataset(root, lengths, freq_bins=32, layout="sequence"):
    """Write inputs/targets in one of the seed project's layouts; return the two paths."""
    rng = np.random.default_rng(0)
    clean = [rng.normal(size=(freq_bins, n)).astype(np.float32) for n in lengths]
    degraded = [c * 0.5 for c in clean]
    root.mkdir(parents=True, exist_ok=True)
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
