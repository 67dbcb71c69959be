"""Pictures for tasks on waveforms: pitch tracks over a spectrogram, and predicted against
true values of a regression."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pitch_track_image(
    clips: Sequence[np.ndarray],
    sample_rate: int,
    hop_length: int,
    true_f0: Sequence[np.ndarray],
    predicted_f0: Sequence[np.ndarray],
    voiced: Sequence[np.ndarray],
) -> np.ndarray:
    """One panel per clip: its spectrogram (log frequency, 30 Hz to 4 kHz) with the true pitch
    (white) and the predicted pitch of frames called voiced (cyan) drawn over it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2 * len(clips), 2.6), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, len(clips), sharey=True))
    for ax, clip, truth, predicted, on in zip(
        axes, clips, true_f0, predicted_f0, voiced, strict=True
    ):
        n_fft = 1024
        padded = np.pad(clip, (n_fft // 2, n_fft // 2))
        frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
        spectrum = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)).T
        freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
        times = np.arange(spectrum.shape[1]) * hop_length / sample_rate
        db = 20 * np.log10(spectrum + 1e-6)
        ax.pcolormesh(times, freqs[1:], db[1:], shading="auto", cmap="magma",
                      vmin=db.max() - 70, vmax=db.max())  # fmt: skip
        frame_times = np.arange(len(truth)) * hop_length / sample_rate
        ax.plot(frame_times, np.where(truth > 0, truth, np.nan), color="white", lw=2.5)
        shown = np.where(on, predicted, np.nan)[: len(frame_times)]
        ax.plot(frame_times[: len(shown)], shown, color="cyan", lw=1.2, ls="--")
        ax.set_yscale("log")
        ax.set_ylim(30, min(4000, sample_rate / 2))
        ax.set_xlabel("s")
    axes[0].set_ylabel("Hz (white: true, cyan: predicted)")
    fig.tight_layout()
    return _rendered(fig, FigureCanvasAgg)


def predicted_against_true(
    true: np.ndarray, predicted: np.ndarray, names: Sequence[str]
) -> np.ndarray:
    """A scatter per target of predicted (y) against true (x) values (N × targets), with the
    diagonal where a perfect model's points lie."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.0 * len(names), 3.0), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for k, (ax, name) in enumerate(zip(axes, names, strict=True)):
        low = float(min(true[:, k].min(), predicted[:, k].min()))
        high = float(max(true[:, k].max(), predicted[:, k].max()))
        ax.plot([low, high], [low, high], color="grey", lw=1)
        ax.scatter(true[:, k], predicted[:, k], s=10, alpha=0.7)
        ax.set_title(name)
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
    fig.tight_layout()
    return _rendered(fig, FigureCanvasAgg)


def _rendered(fig, canvas_class) -> np.ndarray:
    canvas = canvas_class(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
