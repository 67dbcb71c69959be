"""Frames of a waveform as pitch trackers take them: frame ``i`` is centred on sample
``i * hop`` (the recording is zero-padded by half a frame at each end), so a recording of
``n`` samples has ``1 + n // hop`` frames and frame times do not depend on the frame length.
numpy only: training, ``predict`` and the synthesisers agree on it."""

from __future__ import annotations

import numpy as np


def frame_count(samples: int, hop: int) -> int:
    return 1 + samples // hop


def frame_centres(samples: int, hop: int) -> np.ndarray:
    """The sample each frame is centred on (the last may be just past the end)."""
    return np.arange(frame_count(samples, hop)) * hop


def centre_padded(samples: np.ndarray, frame_length: int) -> np.ndarray:
    """``samples`` with half a frame of zeros at each end: frame ``i`` of it starts at
    sample ``i * hop``."""
    half = frame_length // 2
    return np.pad(samples, (half, frame_length - half))
