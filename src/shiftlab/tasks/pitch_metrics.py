"""Pitch-tracking metrics as mir_eval defines them (``mir_eval.melody``), on frames already
aligned with the reference.

A reference frequency of 0 Hz marks an unvoiced frame. Raw pitch accuracy is the share of
voiced reference frames whose estimate is within 50 cents (whatever the estimated voicing);
raw chroma accuracy the same with octave errors forgiven; overall accuracy the share of all
frames that are right: unvoiced and called unvoiced, or voiced, called voiced and within 50
cents. The median absolute error is in cents, over voiced reference frames.
"""

from __future__ import annotations

import numpy as np

from shiftlab.pitch_bins import hz_to_cents

CENT_TOLERANCE = 50.0


def frame_scores(
    reference_hz: np.ndarray, estimate_hz: np.ndarray, estimate_voiced: np.ndarray
) -> dict[str, np.ndarray]:
    """Per frame: ``voiced`` (the reference is), ``pitch_correct`` and ``chroma_correct``
    (False on unvoiced reference frames), ``overall_correct``, and ``cents_error`` (absolute,
    NaN on unvoiced reference frames)."""
    reference_hz = np.asarray(reference_hz, dtype=np.float64)
    estimate_hz = np.asarray(estimate_hz, dtype=np.float64)
    estimate_voiced = np.asarray(estimate_voiced, dtype=bool)
    voiced = reference_hz > 0
    difference = np.abs(hz_to_cents(reference_hz) - hz_to_cents(estimate_hz))
    known = voiced & np.isfinite(difference)
    difference = np.where(known, difference, np.inf)
    octave = 1200.0 * np.floor(np.where(known, difference, 0.0) / 1200.0 + 0.5)
    pitch_correct = known & (difference < CENT_TOLERANCE)
    chroma_correct = known & (np.abs(difference - octave) < CENT_TOLERANCE)
    overall = np.where(voiced, estimate_voiced & pitch_correct, ~estimate_voiced)
    return {
        "voiced": voiced,
        "pitch_correct": pitch_correct,
        "chroma_correct": chroma_correct,
        "overall_correct": overall,
        "cents_error": np.where(known, difference, np.nan),
    }


def melody_metrics(
    reference_hz: np.ndarray, estimate_hz: np.ndarray, estimate_voiced: np.ndarray
) -> dict[str, float]:
    """``raw_pitch_accuracy``, ``raw_chroma_accuracy``, ``overall_accuracy`` (0–1) and
    ``median_cents_error`` of a sequence of frames (0 where nothing is voiced: mir_eval's
    convention; the median is NaN then)."""
    scores = frame_scores(reference_hz, estimate_hz, estimate_voiced)
    voiced = int(scores["voiced"].sum())
    frames = scores["voiced"].size
    errors = scores["cents_error"][scores["voiced"]]
    return {
        "raw_pitch_accuracy": float(scores["pitch_correct"].sum() / voiced) if voiced else 0.0,
        "raw_chroma_accuracy": float(scores["chroma_correct"].sum() / voiced) if voiced else 0.0,
        "overall_accuracy": float(scores["overall_correct"].mean()) if frames else 0.0,
        "median_cents_error": float(np.nanmedian(errors)) if voiced else float("nan"),
    }
