"""Struck drums by modal synthesis: ideal membranes, circular or rectangular, of known size,
aspect and damping, so a network can learn to hear a drum's physical parameters.

A membrane with wave speed ``c`` vibrates in modes of fixed frequencies. A circular one of
radius ``a`` has ``f_mn = c j_mn / (2 pi a)``, where ``j_mn`` is the n-th zero of the Bessel
function ``J_m``; a rectangle of sides ``Lx``, ``Ly`` has ``f_mn = (c / 2) sqrt((m / Lx)^2 +
(n / Ly)^2)``. A strike excites each mode by the mode's shape at the striking point, filtered
by the strike's duration (a soft mallet excites fewer high modes); each mode decays
exponentially, faster the higher it is. numpy and scipy only; a drum depends only on
``(seed, index)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from shiftlab.errors import ConfigError

WAVE_SPEED = 100.0  # m/s: one tension and density for every drum, so size sets the pitch
# The parameters a drum has, each a possible regression target.
PARAMETERS = ("size", "aspect", "damping", "rectangular")
CIRCULAR_ORDERS = 10  # Bessel orders m = 0..9
CIRCULAR_ZEROS = 6  # zeros n = 1..6 of each order
RECTANGULAR_MODES = 8  # m, n = 1..8


@cache
def bessel_zeros(orders: int = CIRCULAR_ORDERS, zeros: int = CIRCULAR_ZEROS) -> np.ndarray:
    """``j[m, n - 1]``: the n-th positive zero of ``J_m`` (orders × zeros)."""
    from scipy.special import jn_zeros

    return np.stack([jn_zeros(m, zeros) for m in range(orders)])


def circular_mode_frequencies(radius: float, wave_speed: float = WAVE_SPEED) -> np.ndarray:
    """Frequencies (Hz) of a circular membrane's modes, ``[m, n - 1]`` (see
    :func:`bessel_zeros`)."""
    return wave_speed * bessel_zeros() / (2.0 * np.pi * radius)


def rectangular_mode_frequencies(
    width: float, height: float, wave_speed: float = WAVE_SPEED
) -> np.ndarray:
    """Frequencies (Hz) of a rectangular membrane's modes, ``[m - 1, n - 1]``."""
    m = np.arange(1, RECTANGULAR_MODES + 1)[:, None]
    n = np.arange(1, RECTANGULAR_MODES + 1)[None, :]
    return 0.5 * wave_speed * np.sqrt((m / width) ** 2 + (n / height) ** 2)


@dataclass(frozen=True)
class Drum:
    """One struck drum: its recording and its physical parameters."""

    samples: np.ndarray
    parameters: dict[str, float]


@dataclass(frozen=True)
class DrumSynthesis:
    """Random drums, each a function of ``(seed, index)``.

    Args:
        sample_rate, seconds: of each recording.
        size: range of the drum's size in metres (a circle's diameter, a rectangle's long
            side), drawn log-uniformly.
        aspect: range of a rectangle's long side over its short side (a circle's is 1).
        damping: range of the fundamental's decay rate (1/s; higher modes decay faster).
        rectangular_share: the share of drums that are rectangular.
        snr_db: range of the signal-to-noise ratio of added white noise.
    """

    sample_rate: int = 16_000
    seconds: float = 1.0
    size: tuple[float, float] = (0.2, 0.8)
    aspect: tuple[float, float] = (1.0, 2.0)
    damping: tuple[float, float] = (3.0, 15.0)
    rectangular_share: float = 0.5
    snr_db: tuple[float, float] = (30.0, 50.0)

    def __post_init__(self) -> None:
        for name in ("size", "aspect", "damping", "snr_db"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ConfigError(
                    f"data.{name}={[low, high]}: give a range [low, high] with 0 < low <= high."
                )
        if self.aspect[0] < 1:
            raise ConfigError(f"data.aspect={list(self.aspect)}: an aspect is at least 1.")
        if not 0 <= self.rectangular_share <= 1:
            raise ConfigError(f"data.rectangular_share={self.rectangular_share}: a share, 0–1.")

    def drum(self, seed: int, index: int) -> Drum:
        rng = np.random.default_rng([seed, index, 7])
        parameters = self._draw(rng)
        strike = rng.uniform(0.1, 0.45, size=2)  # the striking point, as shares of the sides
        size, aspect = parameters["size"], parameters["aspect"]
        if parameters["rectangular"]:
            frequencies = rectangular_mode_frequencies(size, size / aspect)
            m = np.arange(1, RECTANGULAR_MODES + 1)[:, None]
            n = np.arange(1, RECTANGULAR_MODES + 1)[None, :]
            shape = np.sin(np.pi * m * strike[0]) * np.sin(np.pi * n * strike[1])
        else:
            from scipy.special import jv

            frequencies = circular_mode_frequencies(size / 2)
            orders = np.arange(CIRCULAR_ORDERS)[:, None]
            shape = jv(orders, bessel_zeros() * strike[0])
        samples = self._render(frequencies.ravel(), shape.ravel(), parameters["damping"], rng)
        return Drum(samples, parameters)

    def parameters(self, seed: int, index: int) -> dict[str, float]:
        """The parameters of drum ``index`` without rendering it (for target statistics)."""
        return self._draw(np.random.default_rng([seed, index, 7]))

    def _draw(self, rng: np.random.Generator) -> dict[str, float]:
        rectangular = bool(rng.random() < self.rectangular_share)
        size = float(np.exp(rng.uniform(*np.log(self.size))))
        aspect = float(rng.uniform(*self.aspect)) if rectangular else 1.0
        damping = float(rng.uniform(*self.damping))
        return {
            "size": size,
            "aspect": aspect,
            "damping": damping,
            "rectangular": float(rectangular),
        }

    def _render(
        self, frequencies: np.ndarray, shape: np.ndarray, damping: float, rng: np.random.Generator
    ) -> np.ndarray:
        keep = frequencies < 0.45 * self.sample_rate
        frequencies, shape = frequencies[keep], shape[keep]
        mallet = rng.uniform(0.5e-3, 3e-3)  # strike duration: a raised-cosine pulse's spectrum
        ft = frequencies * mallet
        with np.errstate(divide="ignore", invalid="ignore"):
            pulse = np.abs(np.cos(np.pi * ft) / (1.0 - (2.0 * ft) ** 2))
        pulse = np.where(np.isfinite(pulse), pulse, np.pi / 4)
        amplitude = shape * pulse * rng.uniform(0.7, 1.3, size=len(frequencies))
        decay = damping * np.sqrt(frequencies / frequencies.min())
        count = round(self.seconds * self.sample_rate)
        # Struck from rest, every mode starts at zero displacement: the imaginary part of
        # exp((-decay + 2 pi i f) t). Computed a block at a time, each block the first one
        # times a constant, which is several times faster than exp and sin of every sample.
        rate = (-decay + 2j * np.pi * frequencies) / self.sample_rate
        block = min(count, 512)
        first = np.exp(np.outer(np.arange(block), rate)) * amplitude
        step = np.exp(block * rate)
        wave = np.empty(count)
        current = first
        for start in range(0, count, block):
            part = current[: count - start]
            wave[start : start + len(part)] = part.sum(axis=1).imag
            current = current * step
        wave /= max(float(np.abs(wave).max()), 1e-9)
        noise = rng.standard_normal(count)
        snr = rng.uniform(*self.snr_db)
        wave += noise * np.sqrt(np.mean(wave**2) / 10 ** (snr / 10))
        gain = rng.uniform(0.3, 0.9)
        return (gain * wave / np.abs(wave).max()).astype(np.float32)
