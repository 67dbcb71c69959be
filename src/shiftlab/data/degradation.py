"""Degrade clean speech the way a bone-conduction (or otherwise band-limited, noisy) recording
sounds, so that any folder of clean speech becomes training pairs.

A steep low-pass at a random cut-off, a low resonance (the skull and the sensor's housing
boost a band at a few hundred hertz), a gain change and noise at a random signal-to-noise
ratio. Every draw comes from the generator it is given: the data modules seed it from (run
seed, epoch, item), so an item is degraded anew each epoch, the same way in every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shiftlab.errors import ConfigError


@dataclass(frozen=True)
class Degradation:
    """Ranges each draw is uniform in (all pairs are ``[low, high]``).

    Args:
        cutoff_hz: cut-off of the low-pass (8th order Butterworth).
        resonance_hz, resonance_db: centre and boost of the low resonance (a peaking filter).
        gain_db: level change of the whole recording.
        snr_db: signal-to-noise ratio of the added noise (louder at low frequencies).
    """

    cutoff_hz: Sequence[float] = (600.0, 1400.0)
    resonance_hz: Sequence[float] = (150.0, 400.0)
    resonance_db: Sequence[float] = (0.0, 9.0)
    gain_db: Sequence[float] = (-6.0, 0.0)
    snr_db: Sequence[float] = (15.0, 35.0)

    def __post_init__(self) -> None:
        for name in ("cutoff_hz", "resonance_hz", "resonance_db", "gain_db", "snr_db"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(
                    f"data.degradation.{name}=[{low}, {high}]: the range is [low, high]; "
                    f"swap them (data.degradation.{name}=[{high}, {low}])."
                )
        if min(self.cutoff_hz) <= 0 or min(self.resonance_hz) <= 0:
            raise ConfigError("data.degradation: frequencies must be above 0 Hz.")

    def __call__(self, clean: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """The degraded version of ``clean`` (float32, same length)."""
        from scipy.signal import butter, lfilter, sosfilt

        nyquist = 0.5 * sample_rate
        x = clean.astype(np.float64)
        cutoff = min(rng.uniform(*self.cutoff_hz), 0.95 * nyquist)
        x = sosfilt(butter(8, cutoff, "low", fs=sample_rate, output="sos"), x)
        centre = min(rng.uniform(*self.resonance_hz), 0.9 * nyquist)
        x = lfilter(*_peaking(centre, rng.uniform(*self.resonance_db), sample_rate), x)
        x *= 10 ** (rng.uniform(*self.gain_db) / 20)
        noise = lfilter([1.0], [1.0, -0.7], rng.normal(size=len(x)))  # tilted towards the lows
        power = np.mean(x**2)
        if power > 0:
            snr = rng.uniform(*self.snr_db)
            x += noise * np.sqrt(power / (np.mean(noise**2) * 10 ** (snr / 10)))
        return x.astype(np.float32)


def _peaking(centre: float, gain_db: float, sample_rate: int, q: float = 1.0):
    """Biquad coefficients (b, a) of a peaking equaliser (Audio EQ Cookbook)."""
    amplitude = 10 ** (gain_db / 40)
    w = 2 * np.pi * centre / sample_rate
    alpha = np.sin(w) / (2 * q)
    b = np.array([1 + alpha * amplitude, -2 * np.cos(w), 1 - alpha * amplitude])
    a = np.array([1 + alpha / amplitude, -2 * np.cos(w), 1 - alpha / amplitude])
    return b / a[0], a / a[0]
