"""How a spectrogram's values map to decibels (``data.scale``), shared by the data readers,
the tasks' metrics and ``predict``. numpy only.

``x → factor · x`` dB for the log scales and ``x → factor · log10(x)`` for the linear ones
(magnitude 20, power 10).
"""

from __future__ import annotations

import math

import numpy as np

LOG_SCALES: dict[str, float] = {
    "db": 1.0,
    "log10_magnitude": 20.0,
    "log10_power": 10.0,
    "ln_magnitude": 20.0 / math.log(10.0),
    "ln_power": 10.0 / math.log(10.0),
}
LINEAR_SCALES: dict[str, float] = {"magnitude": 20.0, "power": 10.0}
SCALES: tuple[str, ...] = (*LOG_SCALES, *LINEAR_SCALES)
LINEAR_FLOOR = 1e-8  # floor of linear values before the logarithm (-160 dB magnitude)
MAGNITUDE_FLOOR = 1e-5  # floor of STFT magnitudes before a log scale (-100 dB)


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(
            f"Unknown spectrogram scale {scale!r}. Say how the data's values map to decibels "
            f"with data.scale, one of {', '.join(SCALES)}."
        )
    return scale


def magnitude_to_scale(magnitude: np.ndarray, scale: str) -> np.ndarray:
    """STFT magnitudes as spectrogram values of ``scale`` (log scales floor them first)."""
    if scale == "magnitude":
        return magnitude
    if scale == "power":
        return magnitude**2
    db = 20.0 * np.log10(np.maximum(magnitude, MAGNITUDE_FLOOR))
    return db / LOG_SCALES[check_scale(scale)]


def scale_to_magnitude(values: np.ndarray, scale: str) -> np.ndarray:
    """The STFT magnitudes that spectrogram values of ``scale`` stand for."""
    if scale == "magnitude":
        return np.maximum(values, 0.0)
    if scale == "power":
        return np.sqrt(np.maximum(values, 0.0))
    return 10.0 ** (values * LOG_SCALES[check_scale(scale)] / 20.0)
