"""CRePE's pitch scale: 360 bins of 20 cents from 31.7 Hz (about C1) to 2005.5 Hz (about
B7), the blurred targets a network trains on, and decoding its activations back to
frequencies.

Cents here are counted from 10 Hz, as in CRePE (``cents = 1200 log2(f / 10)``), so bin ``i``
is centred on ``1997.38 + 20 i`` cents. numpy only: the task (training), ``predict`` from a
checkpoint and ``predict`` from an ``.onnx`` file decode with the same code.
"""

from __future__ import annotations

import numpy as np

BINS = 360
CENTS_PER_BIN = 20.0
FIRST_BIN_CENTS = 1997.3794084376191  # 31.7 Hz in cents above 10 Hz (CRePE's constant)
REFERENCE_HZ = 10.0
TARGET_STD_CENTS = 25.0  # CRePE's Gaussian blur of the target
LOCAL_AVERAGE_HALF_WIDTH = 4  # bins each side of the peak in the weighted average
VITERBI_MAX_JUMP = 11  # bins a Viterbi path may move per frame (CRePE: 12 - |i - j| > 0)

BIN_CENTS = FIRST_BIN_CENTS + CENTS_PER_BIN * np.arange(BINS)


def hz_to_cents(hz: np.ndarray | float) -> np.ndarray:
    """Cents above 10 Hz; 0 Hz (unvoiced) gives NaN."""
    hz = np.asarray(hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cents = 1200.0 * np.log2(hz / REFERENCE_HZ)
    return np.where(hz > 0, cents, np.nan)


def cents_to_hz(cents: np.ndarray | float) -> np.ndarray:
    return REFERENCE_HZ * 2.0 ** (np.asarray(cents, dtype=np.float64) / 1200.0)


def lowest_hz() -> float:
    return float(cents_to_hz(BIN_CENTS[0]))


def highest_hz() -> float:
    return float(cents_to_hz(BIN_CENTS[-1]))


def blurred_targets(hz: np.ndarray, std_cents: float = TARGET_STD_CENTS) -> np.ndarray:
    """The training target of each frequency in ``hz`` (any shape): over the 360 bins, a
    Gaussian of ``std_cents`` centred on its pitch (peak 1); all zeros where ``hz`` is 0
    (an unvoiced frame). Shape ``hz.shape + (360,)``, float32."""
    cents = hz_to_cents(hz)[..., None]
    targets = np.exp(-((BIN_CENTS - cents) ** 2) / (2.0 * std_cents**2))
    return np.nan_to_num(targets, nan=0.0).astype(np.float32)


def decode(activations: np.ndarray, viterbi: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(f0 in Hz, confidence) of each frame of ``activations`` (… × frames × 360, each in
    0–1): the activation-weighted average of the bins within four of the peak (CRePE's
    "local average"), the peak found per frame or, with ``viterbi``, along the most likely
    path (jumps of at most 11 bins per frame), which removes octave errors on single frames.
    The confidence is the largest activation of the frame."""
    activations = np.asarray(activations, dtype=np.float64)
    if viterbi:
        flat = activations.reshape(-1, activations.shape[-2], BINS)
        peaks = np.stack([viterbi_path(a) for a in flat]).reshape(activations.shape[:-1])
    else:
        peaks = activations.argmax(axis=-1)
    return local_average_hz(activations, peaks), activations.max(axis=-1)


def local_average_hz(activations: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """The weighted average frequency of the bins within four of each frame's ``peaks``."""
    offsets = np.arange(-LOCAL_AVERAGE_HALF_WIDTH, LOCAL_AVERAGE_HALF_WIDTH + 1)
    index = peaks[..., None] + offsets
    inside = (index >= 0) & (index < BINS)
    index = np.clip(index, 0, BINS - 1)
    weights = np.take_along_axis(activations, index, axis=-1) * inside
    total = weights.sum(axis=-1)
    cents = (weights * BIN_CENTS[index]).sum(axis=-1) / np.where(total > 0, total, 1.0)
    cents = np.where(total > 0, cents, BIN_CENTS[peaks])
    return cents_to_hz(cents)


def viterbi_path(activations: np.ndarray) -> np.ndarray:
    """The most likely bin of each frame (frames × 360), as CRePE decodes with Viterbi: each
    frame's activations, normalised, are its observation probabilities; moving ``d`` bins
    between frames has probability proportional to ``12 - |d|`` (none beyond 11)."""
    frames = activations.shape[0]
    observed = activations / np.maximum(activations.sum(axis=1, keepdims=True), 1e-12)
    log_observed = np.log(np.maximum(observed, 1e-12))
    jumps = np.arange(-VITERBI_MAX_JUMP, VITERBI_MAX_JUMP + 1)
    weight = (VITERBI_MAX_JUMP + 1 - np.abs(jumps)).astype(np.float64)
    # Bin j is reached from bins j + jumps[k]; each source's row of the transition matrix is
    # normalised over the bins it can reach (fewer at the edges). The weights are symmetric,
    # so log_weight[j, k] is also the log weight of the move from j + jumps[k] to j.
    source = np.arange(BINS)[:, None] + jumps
    reachable = (source >= 0) & (source < BINS)
    source = np.clip(source, 0, BINS - 1)
    log_norm = np.log((weight * reachable).sum(axis=1))
    log_move = np.where(reachable, np.log(weight) - log_norm[source], -np.inf)
    rows = np.arange(BINS)
    score = log_observed[0] - np.log(BINS)
    back = np.zeros((frames, BINS), dtype=np.int64)
    for t in range(1, frames):
        candidates = score[source] + log_move
        best = candidates.argmax(axis=1)
        back[t] = source[rows, best]
        score = candidates[rows, best] + log_observed[t]
    path = np.empty(frames, dtype=np.int64)
    path[-1] = int(score.argmax())
    for t in range(frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
