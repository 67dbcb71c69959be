"""The short-time Fourier transform that turns waveforms into spectrograms and back.

One numpy implementation serves the data pipeline, the task's metrics and ``predict`` (with
or without torch), so a model sees at prediction exactly what it saw in training. Frames are
centred (the signal is zero-padded by ``n_fft // 2`` at both ends, and at the end up to a
whole hop), windowed with a periodic Hann window, and the inverse is the windowed
overlap-add divided by the summed squared window: ``inverse(forward(x))`` gives ``x`` back
to float precision for any hop up to ``n_fft // 2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shiftlab.errors import ConfigError
from shiftlab.spectral_scales import magnitude_to_scale, scale_to_magnitude


@dataclass(frozen=True)
class STFT:
    """``n_fft`` samples per frame (``n_fft // 2 + 1`` frequency bins: 510 gives the TSConv
    U-Net's 256), one frame every ``hop_length`` samples."""

    n_fft: int = 510
    hop_length: int = 128

    def __post_init__(self) -> None:
        if self.n_fft < 4 or not 1 <= self.hop_length <= self.n_fft // 2:
            raise ConfigError(
                f"data.n_fft={self.n_fft} with data.hop_length={self.hop_length}: the hop must "
                "be between 1 and n_fft / 2 (so that frames overlap and the inverse is exact), "
                "e.g. data.n_fft=510 data.hop_length=128."
            )

    @property
    def freq_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def window(self) -> np.ndarray:
        n = np.arange(self.n_fft)
        return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / self.n_fft)).astype(np.float64)

    def frames(self, samples: int) -> int:
        """Frames the transform of ``samples`` samples has."""
        padded = samples + 2 * (self.n_fft // 2)
        return 1 + max(0, -(-(padded - self.n_fft) // self.hop_length))

    def samples_for(self, frames: int) -> int:
        """The largest signal length whose transform has ``frames`` frames."""
        return (frames - 1) * self.hop_length + self.n_fft - 2 * (self.n_fft // 2)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The complex spectrogram (F × frames, complex64) of the waveform ``x`` (one axis)."""
        count = self.frames(len(x))
        pad = self.n_fft // 2
        total = (count - 1) * self.hop_length + self.n_fft
        padded = np.zeros(total, dtype=np.float32)
        padded[pad : pad + len(x)] = x
        frames = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft)[:: self.hop_length]
        return np.fft.rfft(frames * self.window.astype(np.float32), axis=1).T

    def inverse(self, spectrogram: np.ndarray, length: int) -> np.ndarray:
        """The waveform of ``length`` samples whose spectrogram is ``spectrogram`` (F × frames).

        The windowed frames are added in ``ceil(n_fft / hop)`` layers of frames that do not
        overlap, each one vectorised.
        """
        frames = np.fft.irfft(spectrogram.T, n=self.n_fft, axis=1) * self.window.astype(np.float32)
        signal = self._overlap_add(frames) / self._window_sum(frames.shape[0])
        pad = self.n_fft // 2
        signal = signal[pad : pad + length]
        if len(signal) < length:
            signal = np.pad(signal, (0, length - len(signal)))
        return signal.astype(np.float32)

    def _overlap_add(self, frames: np.ndarray) -> np.ndarray:
        count, n_fft, hop = frames.shape[0], self.n_fft, self.hop_length
        layers = -(-n_fft // hop)
        stride = layers * hop  # frames of one layer start this far apart: no overlap
        out = np.zeros((count - 1) * hop + n_fft + stride, dtype=frames.dtype)
        for layer in range(layers):
            chosen = frames[layer::layers]
            if not len(chosen):
                continue
            block = np.zeros((len(chosen), stride), dtype=frames.dtype)
            block[:, :n_fft] = chosen
            start = layer * hop
            out[start : start + block.size] += block.ravel()
        return out[: (count - 1) * hop + n_fft]

    def _window_sum(self, count: int) -> np.ndarray:
        """The summed squared windows of ``count`` frames (floored: never a division by 0)."""
        squares = np.broadcast_to((self.window**2).astype(np.float32), (count, self.n_fft))
        return np.maximum(self._overlap_add(squares), 1e-8)


def features(stft: STFT, x: np.ndarray, scale: str) -> tuple[np.ndarray, np.ndarray]:
    """(F × T spectrogram values in ``scale``, F × T phase) of the waveform ``x``."""
    spectrum = stft.forward(x)
    values = magnitude_to_scale(np.abs(spectrum), scale)
    return values.astype(np.float32), np.angle(spectrum).astype(np.float32)


def waveform(stft: STFT, values: np.ndarray, phase: np.ndarray, scale: str, length: int):
    """The waveform of spectrogram ``values`` (in ``scale``) with ``phase`` (both F × T)."""
    magnitude = scale_to_magnitude(values.astype(np.float32), scale)
    spectrum = magnitude * (np.cos(phase) + 1j * np.sin(phase)).astype(np.complex64)
    return stft.inverse(spectrum, length)


def griffin_lim(
    stft: STFT, values: np.ndarray, scale: str, length: int, iterations: int = 32, seed: int = 0
) -> np.ndarray:
    """A waveform for spectrogram ``values`` alone, its phase estimated by Griffin-Lim."""
    magnitude = scale_to_magnitude(values.astype(np.float64), scale)
    rng = np.random.default_rng(seed)
    phase = np.exp(2j * np.pi * rng.random(magnitude.shape))
    signal = stft.inverse(magnitude * phase, length)
    for _ in range(iterations):
        phase = np.exp(1j * np.angle(stft.forward(signal)))
        signal = stft.inverse(magnitude * phase, length)
    return signal
