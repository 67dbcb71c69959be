"""Spectrograms as pictures."""

from __future__ import annotations

import numpy as np


def spectrogram_panels(panels: list[np.ndarray], colormap: str = "magma") -> np.ndarray:
    """Render F×T arrays side by side as one H×W×3 uint8 image, low frequencies at the bottom.

    Every panel uses the colour range of the second one (the target, when called with input,
    target, prediction), so the prediction is judged on the target's scale.
    """
    from matplotlib import colormaps  # imported only when a picture is drawn

    reference = panels[1] if len(panels) > 1 else panels[0]
    low, high = np.percentile(reference, [1, 99.5])
    high = max(float(high), float(low) + 1e-6)
    gap = np.full((panels[0].shape[0], 2), np.nan)
    pieces: list[np.ndarray] = []
    for panel in panels:
        pieces.extend((panel, gap))
    strip = np.concatenate(pieces[:-1], axis=1)
    normalised = np.clip((strip - low) / (high - low), 0.0, 1.0)
    rgb = colormaps[colormap](np.nan_to_num(normalised, nan=1.0))[..., :3]
    rgb[np.isnan(strip)] = 1.0  # white separators between panels
    return np.ascontiguousarray((rgb[::-1] * 255).astype(np.uint8))
