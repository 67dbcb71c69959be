"""The files named in the README's table of bad inputs, written the way a user might have them."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import numpy as np
import soundfile

from tests.helpers import write_class_folders, write_npy_dataset, write_segmentation_folders


def write_bad_input_files(root: Path) -> None:
    """``bone.npy``/``clean.npy`` (good pairs), ``nan_bone.npy``, ``short_clean.npy``,
    ``ragged/bone.npy``/``ragged/clean.npy`` (pickled object arrays),
    ``pickle.npy`` (a pickle under a NumPy name), ``corrupt_images/``, ``bad_masks/``,
    ``empty_images/``, ``seg.ckpt``, ``hostile.ckpt`` (its config names ``os.system``),
    ``notes.txt``, ``images/`` and ``escaping.csv`` (a row naming ``../notes.txt``), and
    ``speech/noisy`` and ``speech/clean`` (one recording without its partner, one damaged),
    and ``notes/`` (three notes, ``labels.csv`` with ``file,f0``, and CSVs naming a file
    that is not there, ``unknown_file.csv``, or giving a pitch in words, ``text_target.csv``)."""
    import torch
    from PIL import Image

    bone, clean = write_npy_dataset(root, [20] * 10, freq_bins=256, layout="stack")
    inputs = np.load(bone)
    inputs[3, 5, 7] = np.nan
    np.save(root / "nan_bone.npy", inputs)
    np.save(root / "short_clean.npy", np.load(clean)[:, :, :-1])
    write_npy_dataset(root / "ragged", [20, 24, 18, 30] * 3, freq_bins=256, layout="sequence")
    (root / "pickle.npy").write_bytes(pickle.dumps({"not": "an array"}))

    write_segmentation_folders(root / "corrupt_images", count=6, size=(32, 32))
    (root / "corrupt_images" / "train" / "train_02.png").write_bytes(b"\x89PNG not really")
    write_segmentation_folders(root / "bad_masks", count=6, size=(32, 32))
    mask = Image.fromarray(np.zeros((16, 16), dtype=np.uint8))
    mask.save(root / "bad_masks" / "trainannot" / "train_01.png")
    for sub in ("train", "trainannot"):
        (root / "empty_images" / sub).mkdir(parents=True)

    # A checkpoint of a segmentation run (its description is all the check reads).
    description = {"kind": "segmentation", "config": {"task": {"_target_": "x.Segmentation"}}}
    torch.save({"shiftlab": description, "state_dict": {}}, root / "seg.ckpt")
    (root / "notes.txt").write_text("not a checkpoint\n")
    hostile = {"kind": "regression", "config": {"data": {"_target_": "os.system"}}}
    torch.save({"shiftlab": hostile, "state_dict": {}}, root / "hostile.ckpt")

    for name in ("a", "b", "c", "d", "e"):
        for side in ("noisy", "clean"):
            folder = root / "speech" / side
            folder.mkdir(parents=True, exist_ok=True)
            soundfile.write(folder / f"{name}.wav", 0.1 * np.sin(np.arange(8000) / 5.0), 16000)
    (root / "speech" / "noisy" / "b.wav").rename(root / "speech" / "noisy" / "b2.wav")
    (root / "speech" / "clean" / "d.wav").write_bytes(b"RIFF not really a wave file")

    notes = root / "notes"
    notes.mkdir()
    for i, hz in enumerate((220.0, 330.0, 440.0)):
        soundfile.write(notes / f"n{i}.wav", 0.3 * np.sin(2 * np.pi * hz * np.arange(8000) / 16000),
                        16000)  # fmt: skip
    (notes / "labels.csv").write_text("file,f0\nn0.wav,220\nn1.wav,330\nn2.wav,440\n")
    (notes / "unknown_file.csv").write_text("file,f0\nn0.wav,220\nmissing.wav,330\n")
    (notes / "text_target.csv").write_text("file,f0\nn0.wav,220\nn1.wav,high\n")

    write_class_folders(root / "images", classes=("cat", "dog"), per_class=3)
    with (root / "escaping.csv").open("w", newline="") as f:
        csv.writer(f).writerows(
            [["files", "type"], ["cat/cat_0.png", "cat"], ["../notes.txt", "dog"]]
        )
