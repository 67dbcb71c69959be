"""Find and read the files ``predict`` runs on, prepared as the model saw its test data.

numpy, Pillow and albumentations only: the same code serves checkpoints and ONNX files.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import numpy as np

from shiftlab.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SUFFIXES = {"regression": (".npy",), "segmentation": IMAGE_SUFFIXES}
SUFFIXES["classification"] = IMAGE_SUFFIXES


def find_inputs(pattern: str, kind: str) -> list[Path]:
    """The files named by ``input=``: one file, a folder (its files, sorted) or a glob."""
    suffixes = SUFFIXES[kind]
    path = Path(pattern)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes)
    elif path.is_file():
        files = [path]
    else:
        files = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not files:
        raise DataError(
            f"input={pattern} names no {'/'.join(suffixes)} files for this {kind} model. Give a "
            "file, a folder or a quoted glob such as input='images/*.png'."
        )
    wrong = [p for p in files if p.suffix.lower() not in suffixes]
    if wrong:
        raise DataError(
            f"{wrong[0]} is not an input this {kind} model reads (it takes "
            f"{', '.join(suffixes)} files); leave it out of input=."
        )
    return files


class InputReader:
    """Reads one file into the model's input layout (C×F×T or C×H×W float32)."""

    def __init__(self, kind: str, config: dict[str, Any], facts: dict[str, Any]) -> None:
        self.kind = kind
        data = config["data"]
        self.channels = int(facts.get("in_channels") or data.get("in_channels") or 1)
        self.freq_bins = data.get("freq_bins")
        self.transform = None
        if kind != "regression":
            from hydra.utils import instantiate

            from shiftlab.data.transforms import compose

            self.transform = compose(instantiate(data.get("eval_transforms")))

    def __call__(self, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
        """(model input, the picture to draw outputs on: H×W×3 uint8 for images)."""
        if self.kind == "regression":
            return self._spectrogram(path), None
        from shiftlab.data.images import read_image

        image = read_image(path, self.channels)
        prepared = self.transform(image=image)["image"] if self.transform else image
        x = np.ascontiguousarray(np.asarray(prepared, dtype=np.float32).transpose(2, 0, 1))
        picture = image if image.shape[2] == 3 else np.repeat(image, 3, axis=2)
        return x, picture

    def _spectrogram(self, path: Path) -> np.ndarray:
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise DataError(f"Cannot read {path} as a numpy array: {err}.") from err
        if array.ndim == 2:
            array = array[None]
        if array.ndim != 3 or array.shape[0] != self.channels:
            raise DataError(
                f"{path} holds an array of shape {array.shape}; this model takes one spectrogram "
                f"of {self.freq_bins} frequency bins × T frames (F×T) per file."
            )
        if self.freq_bins is not None and array.shape[1] != int(self.freq_bins):
            raise DataError(
                f"{path} has {array.shape[1]} frequency bins; the model was trained on "
                f"{self.freq_bins}. Compute the spectrogram with the same settings as the "
                "training data."
            )
        if not np.isfinite(array).all():
            raise DataError(f"{path} contains NaN or infinite values; clean or drop the file.")
        return array.astype(np.float32)
