"""Waveform metrics of speech enhancement, per recording: SI-SDR and STOI (numpy)."""

from __future__ import annotations

import warnings

import numpy as np


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al., 2019).

    Both signals are made zero-mean; the reference is scaled to best fit the estimate, and
    the ratio of that target's energy to the rest's is returned.
    """
    estimate = estimate.astype(np.float64) - estimate.mean()
    reference = reference.astype(np.float64) - reference.mean()
    energy = np.dot(reference, reference)
    if energy <= 0:
        return float("nan")
    target = np.dot(estimate, reference) / energy * reference
    noise = estimate - target
    return float(
        10 * np.log10(max(np.dot(target, target), 1e-20) / max(np.dot(noise, noise), 1e-20))
    )


def stoi(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Short-time objective intelligibility (Taal et al., 2011; ``pystoi``), 0 to 1.

    Recordings too short for STOI's 384 ms of analysis after removing silent frames give
    NaN (pystoi warns and returns 1e-5), so that they do not lower an average.
    """
    from pystoi import stoi as pystoi

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(
            pystoi(reference.astype(np.float64), estimate.astype(np.float64), sample_rate)
        )
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return float("nan")
    return value
