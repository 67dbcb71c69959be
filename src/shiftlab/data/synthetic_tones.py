"""Notes of known pitch for pitch tracking: steady or gliding, with vibrato or without, of
varied timbre, in noise, with silence before and after, and the true f0 of every frame.

Each note is a sum of harmonics whose phase follows the pitch curve (so a glide is smooth),
with a random spectral tilt (bright to dull), sometimes odd harmonics only (clarinet-like),
a random attack and release, and white noise at a random signal-to-noise ratio. numpy only;
a note depends only on ``(seed, index)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shiftlab.data.frames import frame_centres
from shiftlab.errors import ConfigError

VOICED_LEVEL = 0.25  # envelope level (of its peak) from which a frame counts as voiced


@dataclass(frozen=True)
class Note:
    """A note's recording, its pitch at every frame (0 Hz: unvoiced) and its median pitch."""

    samples: np.ndarray
    frame_f0: np.ndarray
    f0: float


@dataclass(frozen=True)
class ToneSynthesis:
    """Random notes, each a function of ``(seed, index)``.

    Args:
        sample_rate, seconds: of each recording.
        hop_length: samples between the frames whose pitch is given (frame ``i`` is centred
            on sample ``i * hop_length``).
        f0: range of the starting pitch in Hz, drawn log-uniformly.
        glide_share, glide_cents: the share of gliding notes, and the largest glide (up or
            down over the note).
        vibrato_share: the share of notes with vibrato (4–7 Hz, 10–50 cents deep).
        snr_db: range of the signal-to-noise ratio.
    """

    sample_rate: int = 16_000
    seconds: float = 0.5
    hop_length: int = 160
    f0: tuple[float, float] = (60.0, 1000.0)
    glide_share: float = 0.5
    glide_cents: float = 700.0
    vibrato_share: float = 0.3
    snr_db: tuple[float, float] = (10.0, 40.0)

    def __post_init__(self) -> None:
        for name in ("f0", "snr_db"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ConfigError(
                    f"data.{name}={[low, high]}: give a range [low, high] with 0 < low <= high."
                )
        top = self.f0[1] * 2 ** (self.glide_cents / 1200)
        if top >= self.sample_rate / 2:
            raise ConfigError(
                f"data.f0 up to {self.f0[1]} Hz with glides of {self.glide_cents} cents reaches "
                f"{top:.0f} Hz, above half the sample rate ({self.sample_rate} Hz)."
            )

    def note(self, seed: int, index: int) -> Note:
        rng = np.random.default_rng([seed, index, 11])
        count = round(self.seconds * self.sample_rate)
        t = np.arange(count) / self.sample_rate
        curve = self._pitch_curve(t, rng)
        envelope = self._envelope(count, rng)
        wave = self._harmonics(curve, rng) * envelope
        wave /= max(float(np.abs(wave).max()), 1e-9)
        signal_power = np.mean(wave[envelope > VOICED_LEVEL] ** 2)
        snr = rng.uniform(*self.snr_db)
        wave += rng.standard_normal(count) * np.sqrt(signal_power / 10 ** (snr / 10))
        wave *= rng.uniform(0.3, 0.9) / max(float(np.abs(wave).max()), 1e-9)
        centres = np.minimum(frame_centres(count, self.hop_length), count - 1)
        voiced = envelope[centres] >= VOICED_LEVEL
        frame_f0 = np.where(voiced, curve[centres], 0.0)
        f0 = float(np.median(frame_f0[voiced])) if voiced.any() else 0.0
        return Note(wave.astype(np.float32), frame_f0.astype(np.float32), f0)

    def _pitch_curve(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        start = np.exp(rng.uniform(*np.log(self.f0)))
        cents = np.zeros_like(t)
        if rng.random() < self.glide_share:
            cents += rng.uniform(-self.glide_cents, self.glide_cents) * t / t[-1]
        if rng.random() < self.vibrato_share:
            rate, depth = rng.uniform(4, 7), rng.uniform(10, 50)
            cents += depth * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
        curve = start * 2 ** (cents / 1200)
        return np.clip(curve, None, 0.45 * self.sample_rate)

    def _envelope(self, count: int, rng: np.random.Generator) -> np.ndarray:
        onset = int(rng.uniform(0, 0.2) * count)
        offset = count - int(rng.uniform(0, 0.2) * count)
        attack = max(1, int(rng.uniform(0.005, 0.05) * self.sample_rate))
        release = max(1, int(rng.uniform(0.01, 0.08) * self.sample_rate))
        n = np.arange(count)
        rise = np.clip((n - onset) / attack, 0, 1)
        fall = np.clip((offset - n) / release, 0, 1)
        return rise * fall

    def _harmonics(self, curve: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        phase = 2 * np.pi * np.cumsum(curve) / self.sample_rate
        tilt = rng.uniform(0.5, 2.5)
        odd_only = rng.random() < 0.25
        nyquist = self.sample_rate / 2
        wave = np.zeros_like(curve)
        for k in range(1, int(nyquist // curve.min()) + 1):
            if odd_only and k % 2 == 0:
                continue
            gain = k**-tilt * 10 ** (rng.uniform(-6, 6) / 20)
            # fade a harmonic out as it nears the Nyquist frequency (no aliasing)
            audible = np.clip((0.45 * self.sample_rate - k * curve) / (0.05 * nyquist), 0, 1)
            if not audible.any():
                break
            wave += gain * audible * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
        return wave
