"""Segmentation masks as pictures: coloured overlays, sample grids, confusion matrices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def class_colours(num_classes: int) -> np.ndarray:
    """A distinct RGB colour (0–1) per class; class 0 (background) is black."""
    from matplotlib import colormaps

    table = colormaps["tab20" if num_classes > 10 else "tab10"]
    colours = np.array([table(i % table.N)[:3] for i in range(max(num_classes - 1, 1))])
    return np.vstack([np.zeros((1, 3)), colours])[:num_classes]


def displayable(image: np.ndarray) -> np.ndarray:
    """A C×H×W float image (normalised any way) as H×W×3 in [0, 1], stretched per image."""
    img = image.transpose(1, 2, 0) if image.ndim == 3 else image[..., None]
    low, high = np.percentile(img, [1, 99])
    img = np.clip((img - low) / max(high - low, 1e-6), 0, 1)
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[..., :3]


def overlay(image01: np.ndarray, mask: np.ndarray, colours: np.ndarray, alpha: float = 0.55):
    """Blend class colours over an H×W×3 image; background pixels stay as they are."""
    out = image01.copy()
    fg = mask > 0
    valid = fg & (mask < len(colours))
    out[valid] = (1 - alpha) * image01[valid] + alpha * colours[mask[valid]]
    return out


def framed(panel: np.ndarray, colour: tuple[float, float, float], width: int = 2) -> np.ndarray:
    """An H×W×3 [0, 1] panel with a coloured frame (e.g. green right, red wrong)."""
    out = panel.copy()
    out[:width], out[-width:], out[:, :width], out[:, -width:] = colour, colour, colour, colour
    return out


def sample_grid(
    rows: Sequence[Sequence[np.ndarray]], gap: int = 2, min_size: int = 64
) -> np.ndarray:
    """Tile H×W×3 [0, 1] panels (rows of equal-size panels) into one uint8 image.

    Panels smaller than ``min_size`` pixels are enlarged by a whole factor (pixels repeated),
    so 28×28 images stay legible in TensorBoard.
    """
    factor = max(1, -(-min_size // min(rows[0][0].shape[:2])))
    if factor > 1:
        rows = [[p.repeat(factor, axis=0).repeat(factor, axis=1) for p in row] for row in rows]
    height, width = rows[0][0].shape[:2]
    n_cols = max(len(r) for r in rows)
    grid = np.ones((len(rows) * (height + gap) - gap, n_cols * (width + gap) - gap, 3))
    for r, row in enumerate(rows):
        for c, panel in enumerate(row):
            y, x = r * (height + gap), c * (width + gap)
            grid[y : y + height, x : x + width] = panel
    return (grid * 255).astype(np.uint8)


def confusion_matrix_image(matrix: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """A labelled picture of a confusion matrix (rows: true class, columns: predicted),
    normalised per true class, with the counts written in each cell."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(matrix, dtype=np.int64)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 1.2 + 0.6 * len(names)
    fig = Figure(figsize=(size + 1.5, size), dpi=100)
    ax = fig.subplots()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), labels=names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), labels=names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(names)):
        for j in range(len(names)):
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, f"{counts[i, j]}", ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
