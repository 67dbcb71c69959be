"""Write what ``predict`` found, per task kind; numpy and Pillow only."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from shiftlab.visuals import class_colours, overlay, spectrogram_panels


class PredictionWriter:
    """Spectrograms to ``.npy`` + ``.png``; masks to index and overlay PNGs; classes to CSV."""

    def __init__(self, kind: str, output_dir: Path, class_names: list[str]) -> None:
        self.kind = kind
        self.output_dir = output_dir
        self.class_names = class_names
        output_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = output_dir / "predictions.csv"
        if kind == "classification":
            with self.csv_path.open("w", newline="") as f:
                csv.writer(f).writerow(["file", "predicted", "probability", *class_names])

    def write(self, path: Path, x: np.ndarray, output: np.ndarray, picture: Any) -> list[Path]:
        """Write the outputs of one input file (``output`` without the batch axis)."""
        from PIL import Image

        stem = self.output_dir / path.stem
        if self.kind == "regression":
            np.save(stem.with_suffix(".npy"), output[0] if output.shape[0] == 1 else output)
            Image.fromarray(spectrogram_panels([x[0], output[0]])).save(stem.with_suffix(".png"))
            return [stem.with_suffix(".npy"), stem.with_suffix(".png")]
        if self.kind == "segmentation":
            mask = (output[0] > 0.5) if output.shape[0] == 1 else output.argmax(axis=0)
            mask = mask.astype(np.uint8)
            mask_path = stem.parent / f"{stem.name}_mask.png"
            overlay_path = stem.parent / f"{stem.name}_overlay.png"
            Image.fromarray(mask).save(mask_path)
            colours = class_colours(max(len(self.class_names), 2))
            blended = overlay(picture.astype(np.float32) / 255.0, mask, colours)
            Image.fromarray((blended * 255).round().astype(np.uint8)).save(overlay_path)
            return [mask_path, overlay_path]
        best = int(output.argmax())
        with self.csv_path.open("a", newline="") as f:
            row = [str(path), self.class_names[best], f"{output[best]:.6f}"]
            csv.writer(f).writerow(row + [f"{p:.6f}" for p in output])
        return [self.csv_path]
