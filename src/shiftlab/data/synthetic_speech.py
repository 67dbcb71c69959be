"""Speech-like spectrogram pairs for a task in the shape of bone-conduction enhancement.

Targets are clean, speech-like magnitude spectrograms: syllables of harmonic tones whose
pitch moves, shaped by moving formant resonances, with attacks, decays, fricative noise
bursts and silences. Inputs are the same utterances degraded the way a bone-conduction
signal is: a steep low-pass (most energy above 1–2 kHz is lost), a gain change and additive
noise. Both are returned as log10 magnitudes (20 · value = dB), floored at -80 dB.

Each pair is generated from ``(seed, index)`` alone, so a dataset is identical on every
machine, in any order, in any worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOOR = 1e-4  # -80 dB: the quietest magnitude represented


@dataclass(frozen=True)
class SpeechSynthesis:
    """Parameters of the generator (the defaults give a 16 kHz, 10 ms-hop look)."""

    freq_bins: int = 256
    sample_rate: int = 16_000
    min_frames: int = 48
    max_frames: int = 160
    cutoff_hz: tuple[float, float] = (600.0, 1400.0)
    noise_db: tuple[float, float] = (-70.0, -50.0)

    def pair(self, seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(degraded, clean)``, each a float32 ``freq_bins × T`` log10 magnitude."""
        rng = np.random.default_rng([seed, index])
        frames = int(rng.integers(self.min_frames, self.max_frames + 1))
        freqs = np.linspace(0.0, self.sample_rate / 2, self.freq_bins)[:, None]
        clean = self._clean(rng, freqs, frames)
        degraded = self._degrade(rng, freqs, clean)
        return (
            np.log10(np.maximum(degraded, FLOOR)).astype(np.float32),
            np.log10(np.maximum(clean, FLOOR)).astype(np.float32),
        )

    def _clean(self, rng: np.random.Generator, freqs: np.ndarray, frames: int) -> np.ndarray:
        magnitude = np.zeros((freqs.shape[0], frames))
        base_f0 = rng.uniform(90.0, 240.0)
        t = int(rng.integers(0, 8))  # utterances may start mid-silence or right away
        while t < frames:
            if rng.random() < 0.3:  # a fricative burst before the vowel
                length = int(rng.integers(4, 12))
                magnitude[:, t : t + length] += self._fricative(rng, freqs, min(length, frames - t))
                t += length
            length = int(rng.integers(10, 40))
            span = min(length, frames - t)
            if span > 0:
                magnitude[:, t : t + span] += self._vowel(rng, freqs, base_f0, length)[:, :span]
            t += length + int(rng.integers(3, 20))  # silence between syllables
        quiet_floor = FLOOR * rng.rayleigh(0.5, size=magnitude.shape)
        return magnitude / max(magnitude.max(), 1e-8) + quiet_floor

    def _vowel(
        self, rng: np.random.Generator, freqs: np.ndarray, base_f0: float, length: int
    ) -> np.ndarray:
        tau = np.linspace(0.0, 1.0, length)
        f0 = base_f0 * np.exp(rng.uniform(-0.2, 0.2)) * (1 + rng.uniform(-0.3, 0.3) * (tau - 0.5))
        f0 = f0 * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(2, 5) * tau + rng.uniform(0, 6.3)))
        # Harmonic comb: a peak at every multiple of f0, as wide as a window's main lobe.
        nearest = np.maximum(np.round(freqs / f0), 1.0)
        comb = np.exp(-0.5 * ((freqs - nearest * f0) / 28.0) ** 2)
        # Three formant resonances gliding from one vowel towards another, and a spectral tilt.
        start = np.array([rng.uniform(300, 900), rng.uniform(900, 2400), rng.uniform(2400, 3500)])
        end = start * np.exp(rng.uniform(-0.15, 0.15, size=3))
        centres = start[:, None] + (end - start)[:, None] * tau[None, :]
        widths = np.array([90.0, 130.0, 200.0])[:, None, None]
        gains = np.array([1.0, 0.5, 0.25])[:, None, None]
        envelope = (gains / (1 + ((freqs[None] - centres[:, None, :]) / widths) ** 2)).sum(0)
        envelope = envelope / (1 + freqs / 2000.0) + 0.02
        # Onset: a short attack, then a decay towards the end of the syllable.
        attack = np.clip(np.arange(length) / rng.uniform(1.5, 4.0), 0, 1)
        decay = np.clip((length - np.arange(length)) / rng.uniform(3.0, 8.0), 0, 1)
        level = rng.uniform(0.4, 1.0) * attack * decay
        return comb * envelope * level

    def _fricative(self, rng: np.random.Generator, freqs: np.ndarray, length: int) -> np.ndarray:
        corner = rng.uniform(2500, 4500)
        shape = 1 / (1 + (corner / np.maximum(freqs, 1.0)) ** 4)
        noise = rng.rayleigh(1.0, size=(freqs.shape[0], length))
        return rng.uniform(0.03, 0.12) * shape * noise

    def _degrade(
        self, rng: np.random.Generator, freqs: np.ndarray, clean: np.ndarray
    ) -> np.ndarray:
        cutoff = rng.uniform(*self.cutoff_hz)
        lowpass = 1 / np.sqrt(1 + (freqs / cutoff) ** 8)  # a fourth-order roll-off
        gain = rng.uniform(0.5, 1.0)
        noise_level = 10 ** (rng.uniform(*self.noise_db) / 20)
        tint = 1 / np.sqrt(1 + freqs / 1000.0)  # the noise is louder at low frequencies
        noise = noise_level * tint * rng.rayleigh(1.0, size=clean.shape)
        return np.sqrt((gain * lowpass * clean) ** 2 + noise**2)
