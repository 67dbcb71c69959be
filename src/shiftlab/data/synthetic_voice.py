"""Speech-like waveforms from a seed, for the embedded speech-enhancement data (no download).

A source-filter voice: glottal pulses at a pitch that glides and wavers, shaped by a glottal
low-pass and three formant resonators that move from one vowel towards another; fricative
noise bursts high-passed above 2–5 kHz before some vowels; attacks, decays and pauses
between syllables; and the quiet room noise of a good recording (60 dB below the peak), so
that pauses are not digital silence. Utterance ``i`` depends only on ``(seed, i)``: a dataset
is identical on every machine, in any order, in any worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK_SECONDS = 0.01  # formants and loudness change every 10 ms
ROOM_NOISE = 1e-3  # RMS of the room noise relative to the peak: -60 dB


@dataclass(frozen=True)
class VoiceSynthesis:
    """Parameters of the generator: sample rate and the range of utterance durations."""

    sample_rate: int = 16_000
    min_seconds: float = 1.0
    max_seconds: float = 2.5

    def utterance(self, seed: int, index: int) -> np.ndarray:
        """A float32 waveform in [-1, 1] (peak about 0.5), ``min_seconds`` to ``max_seconds``
        long."""
        from scipy.signal import lfilter

        rng = np.random.default_rng([seed, index, 7])
        length = int(rng.uniform(self.min_seconds, self.max_seconds) * self.sample_rate)
        signal = np.zeros(length)
        base_f0 = rng.uniform(90.0, 240.0)
        t = int(rng.uniform(0.0, 0.15) * self.sample_rate)
        while t < length:
            if rng.random() < 0.35:
                burst = int(rng.uniform(0.04, 0.12) * self.sample_rate)
                part = self._fricative(rng, min(burst, length - t))
                signal[t : t + len(part)] += part
                t += burst
            if t >= length:
                break
            vowel = int(rng.uniform(0.12, 0.35) * self.sample_rate)
            part = self._vowel(rng, base_f0, min(vowel, length - t))
            signal[t : t + len(part)] += part
            t += vowel + int(rng.uniform(0.03, 0.2) * self.sample_rate)
        peak = np.abs(signal).max()
        signal = 0.5 * signal / peak if peak > 0 else signal
        room = lfilter([1.0], [1.0, -0.9], rng.normal(size=length))
        signal += ROOM_NOISE * 0.5 * room / np.sqrt(np.mean(room**2))
        return signal.astype(np.float32)

    def _vowel(self, rng: np.random.Generator, base_f0: float, length: int) -> np.ndarray:
        from scipy.signal import lfilter

        sr = self.sample_rate
        tau = np.linspace(0.0, 1.0, length)
        f0 = base_f0 * np.exp(rng.uniform(-0.2, 0.2)) * (1 + rng.uniform(-0.3, 0.3) * (tau - 0.5))
        f0 *= 1 + 0.015 * np.sin(2 * np.pi * rng.uniform(4, 6) * tau * length / sr)
        phase = np.cumsum(f0 / sr)
        pulses = np.diff(np.floor(phase), prepend=0.0)  # one impulse per glottal period
        # The glottal pulse's spectrum falls by ~12 dB per octave: two one-pole low-passes.
        source = lfilter([1.0], [1.0, -0.97], lfilter([1.0], [1.0, -0.9], pulses))
        start = np.array([rng.uniform(300, 900), rng.uniform(900, 2400), rng.uniform(2400, 3500)])
        end = start * np.exp(rng.uniform(-0.2, 0.2, size=3))
        bandwidths = np.array([80.0, 110.0, 160.0])
        voiced = self._resonate(source, start, end, bandwidths)
        attack = np.clip(np.arange(length) / (rng.uniform(0.01, 0.03) * sr), 0, 1)
        decay = np.clip((length - np.arange(length)) / (rng.uniform(0.03, 0.08) * sr), 0, 1)
        return rng.uniform(0.4, 1.0) * attack * decay * voiced / max(np.abs(voiced).max(), 1e-9)

    def _resonate(
        self, x: np.ndarray, start: np.ndarray, end: np.ndarray, bandwidths: np.ndarray
    ) -> np.ndarray:
        """``x`` through resonators in cascade whose centres glide from ``start`` to ``end``
        (changed every block, filter states carried across blocks)."""
        from scipy.signal import lfilter

        sr = self.sample_rate
        block = max(1, int(BLOCK_SECONDS * sr))
        out = x.copy()
        for k in range(len(start)):
            state = np.zeros(2)
            y = np.empty_like(out)
            for b in range(0, len(out), block):
                frac = b / max(len(out) - 1, 1)
                centre = start[k] + (end[k] - start[k]) * frac
                r = np.exp(-np.pi * bandwidths[k] / sr)
                a = [1.0, -2 * r * np.cos(2 * np.pi * centre / sr), r * r]
                y[b : b + block], state = lfilter([1 - r], a, out[b : b + block], zi=state)
            out = y
        return out

    def _fricative(self, rng: np.random.Generator, length: int) -> np.ndarray:
        from scipy.signal import butter, sosfilt

        corner = rng.uniform(2000, 5000)
        sos = butter(
            4, min(corner, 0.45 * self.sample_rate), "high", fs=self.sample_rate, output="sos"
        )
        noise = sosfilt(sos, rng.normal(size=length))
        ramp = np.minimum(
            1, np.minimum(np.arange(length), length - np.arange(length)) / (0.01 * self.sample_rate)
        )
        return rng.uniform(0.05, 0.2) * ramp * noise / max(np.abs(noise).max(), 1e-9)
