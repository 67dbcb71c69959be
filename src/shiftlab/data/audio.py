"""Sound files on disk: which files are audio, reading one as a mono waveform at the rate a
model works at, and writing one back. ``soundfile`` (libsndfile, bundled in its wheel) reads
and writes; ``scipy`` resamples. No torch: ``predict`` from an ``.onnx`` model uses this too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from shiftlab.data.in_memory import Source, label, openable
from shiftlab.errors import DataError

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
SILENCE = 1e-6  # peak amplitude below which a recording holds nothing to learn from
_MIXED_DOWN_SAID: set[str] = set()


@dataclass(frozen=True)
class Recording:
    """A waveform read from ``path`` (mono float32 at ``sample_rate``), and the rate and
    length the file itself has (``predict`` writes its output back at those)."""

    path: Path
    samples: np.ndarray
    sample_rate: int
    file_rate: int
    file_frames: int


def audio_files(folder: Path, key: str) -> dict[str, Path]:
    """The audio files under ``folder`` (any depth), keyed by their path relative to it
    without the suffix (``spk1/a01``): what pairs a degraded file with its clean one."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"{key}: {folder} is not a folder. Point {key} at a folder of recordings "
            f"({', '.join(AUDIO_SUFFIXES)}, found at any depth)."
        )
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DataError(
            f"{key}: {folder} holds no audio files ({', '.join(AUDIO_SUFFIXES)}, at any depth). "
            "Point it at the folder of your recordings."
        )
    return {p.relative_to(folder).with_suffix("").as_posix(): p for p in files}


def header_seconds(path: Path, remedy: str = "replace or remove it") -> float:
    """The duration of the recording at ``path`` from its header (no samples read): what
    data modules check of every file at launch, so a damaged or empty one stops the run
    before training, naming it and the ``remedy``."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError, OSError) as err:
        raise DataError(
            f"Cannot read {path} as audio ({err}). The file is damaged or not a sound file; "
            f"{remedy}."
        ) from None
    if info.frames == 0:
        raise DataError(f"{path} holds no samples (an empty recording); {remedy}.")
    return info.frames / info.samplerate


def read_audio(path: Source, sample_rate: int, min_samples: int = 1) -> Recording:
    """The recording at ``path`` (on disk or in memory) as mono float32 at ``sample_rate``.

    Several channels are averaged (said once per folder in the log); another rate is
    resampled (polyphase, anti-aliased). A file that is not audio, is damaged, is empty,
    silent, or shorter than ``min_samples`` gets one :class:`DataError` naming it.
    """
    import soundfile

    try:
        data, file_rate = soundfile.read(openable(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError, ValueError) as err:
        raise DataError(
            f"Cannot read {path} as audio ({err}). The file is damaged or not a sound file; "
            f"replace or remove it (shiftlab reads {', '.join(AUDIO_SUFFIXES)})."
        ) from None
    frames = data.shape[0]
    if frames == 0:
        raise DataError(f"{path} holds no samples (an empty recording); remove it or record again.")
    if not np.isfinite(data).all():
        raise DataError(f"{path} holds NaN or infinite samples; fix or remove the file.")
    if data.shape[1] > 1:
        _say_mixed_down(path, data.shape[1])
    mono = data.mean(axis=1)
    if float(np.abs(mono).max()) < SILENCE:
        raise DataError(
            f"{path} is silent (every sample below {SILENCE:g}); there is nothing to learn from "
            "or enhance in it. Remove it from the folder."
        )
    samples = resample(mono, file_rate, sample_rate)
    if samples.shape[0] < min_samples:
        raise DataError(
            f"{path} is {frames} samples long at {file_rate} Hz, shorter than one analysis "
            f"frame ({min_samples} samples at {sample_rate} Hz). Remove it, or use a smaller "
            "data.n_fft."
        )
    return Recording(label(path), samples, sample_rate, int(file_rate), int(frames))


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``samples`` at ``rate`` resampled to ``target`` Hz (float32); unchanged when equal.
    The output has ``round(len * target / rate)`` samples."""
    if rate == target:
        return np.ascontiguousarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly

    ratio = Fraction(int(target), int(rate))
    out = resample_poly(samples.astype(np.float64), ratio.numerator, ratio.denominator)
    length = round(len(samples) * target / rate)
    if out.shape[0] < length:
        out = np.pad(out, (0, length - out.shape[0]))
    return out[:length].astype(np.float32)


def write_audio(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write mono ``samples`` (clipped to [-1, 1]) in the format the suffix names (16-bit
    PCM for WAV and FLAC, Vorbis for OGG)."""
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.clip(samples, -1.0, 1.0), sample_rate)


def _say_mixed_down(path: Source, channels: int) -> None:
    folder = str(label(path).parent)
    if folder not in _MIXED_DOWN_SAID:
        _MIXED_DOWN_SAID.add(folder)
        log.info(
            "%s has %d channels: recordings are mixed down to mono (their mean); said once for %s.",
            path,
            channels,
            folder,
        )
