"""The files ``predict`` reads, prepared as the model saw its test data; one class per input
format, named by a task kind in :mod:`shiftlab.tasks.kinds`.

An input format also tells ``export`` which axes of the model input are dynamic and gives
example inputs to compare the exported model with PyTorch. numpy, Pillow, albumentations,
soundfile and scipy only, no torch: the same code serves checkpoints and ONNX files.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from shiftlab.data.audio import AUDIO_SUFFIXES, Recording, read_audio
from shiftlab.data.images import IMAGE_SUFFIXES
from shiftlab.data.in_memory import Source
from shiftlab.data.stft import STFT, features
from shiftlab.errors import DataError


class InputFormat:
    """Reads one file into the model's input layout (C×F×T or C×H×W float32).

    Subclasses set ``suffixes`` (the files it reads), ``dynamic_axes`` (axes of the N×C×…
    input that may change size in an exported model) and implement :meth:`read` and
    :meth:`example_shapes`.
    """

    suffixes: ClassVar[tuple[str, ...]]
    dynamic_axes: ClassVar[tuple[int, ...]]
    # True when :meth:`read` returns a stack of model inputs for one file (chunks of a long
    # recording) rather than one input: the file's stack goes through the model on its own.
    chunked: ClassVar[bool] = False

    def __init__(
        self, kind: str, config: dict[str, Any], facts: dict[str, Any], **options: Any
    ) -> None:
        self.kind = kind
        self.data = config["data"]
        self.facts = facts
        self.channels = int(facts.get("in_channels") or self.data.get("in_channels") or 1)

    def find(self, pattern: str) -> list[Path]:
        """The files named by ``input=``: one file, a folder (its files, sorted) or a glob."""
        path = Path(pattern)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in self.suffixes)
        elif path.is_file():
            files = [path]
        else:
            files = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        if not files:
            raise DataError(
                f"input={pattern} names no {'/'.join(self.suffixes)} files for this {self.kind} "
                "model. Give a file, a folder or a quoted glob such as input='images/*.png'."
            )
        wrong = [p for p in files if p.suffix.lower() not in self.suffixes]
        if wrong:
            raise DataError(
                f"{wrong[0]} is not an input this {self.kind} model reads (it takes "
                f"{', '.join(self.suffixes)} files); leave it out of input=."
            )
        return files

    def read(self, path: Source) -> tuple[np.ndarray, Any]:
        """(model input, what the writer needs besides the output: the picture to draw masks
        on for images, the phase and rates for sound, or None). ``path`` is a file on disk
        or an upload in memory (:class:`~shiftlab.data.in_memory.InMemoryFile`)."""
        raise NotImplementedError

    def example_shapes(self, size_multiple: Any) -> list[tuple[int, ...]]:
        """Two input shapes of different batch (and dynamic-axis) sizes, for export checks."""
        raise NotImplementedError


class SpectrogramFiles(InputFormat):
    """One F×T spectrogram per ``.npy`` file (any T), in the training data's scale."""

    suffixes = (".npy",)
    dynamic_axes = (0, 3)  # batch, time

    def read(self, path: Source) -> tuple[np.ndarray, None]:
        from shiftlab.data.npy_reader import load_npy

        array = load_npy(path, f"input {path}")
        if array.ndim == 2:
            array = array[None]
        freq_bins = self.data.get("freq_bins")
        if array.ndim != 3 or array.shape[0] != self.channels:
            raise DataError(
                f"{path} holds an array of shape {array.shape}; this model takes one spectrogram "
                f"of {freq_bins} frequency bins × T frames (F×T) per file."
            )
        if freq_bins is not None and array.shape[1] != int(freq_bins):
            raise DataError(
                f"{path} has {array.shape[1]} frequency bins; the model was trained on "
                f"{freq_bins}. Compute the spectrogram with the same settings as the "
                "training data."
            )
        if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
            raise DataError(
                f"{path} contains NaN, infinite or non-numeric values; clean or drop it."
            )
        return array.astype(np.float32), None

    def example_shapes(self, size_multiple: Any) -> list[tuple[int, ...]]:
        freq = int(self.data["freq_bins"])
        return [(2, self.channels, freq, 37), (1, self.channels, freq, 64)]


class ImageFiles(InputFormat):
    """Images of the size the model was trained at (its ``eval_transforms`` resize them)."""

    suffixes = IMAGE_SUFFIXES
    dynamic_axes = (0,)  # batch

    def __init__(
        self, kind: str, config: dict[str, Any], facts: dict[str, Any], **options: Any
    ) -> None:
        super().__init__(kind, config, facts)
        from hydra.utils import instantiate

        from shiftlab.data.transforms import compose

        self.transform = compose(instantiate(self.data.get("eval_transforms")))

    def read(self, path: Source) -> tuple[np.ndarray, np.ndarray]:
        from shiftlab.data.images import read_image

        image = read_image(path, self.channels)
        prepared = self.transform(image=image)["image"]
        x = np.ascontiguousarray(np.asarray(prepared, dtype=np.float32).transpose(2, 0, 1))
        picture = image if image.shape[2] == 3 else np.repeat(image, 3, axis=2)
        return x, picture

    def example_shapes(self, size_multiple: Any) -> list[tuple[int, ...]]:
        height, width = self.facts.get("image_size") or self.data["image_size"]
        return [(2, self.channels, height, width), (3, self.channels, height, width)]


class AnySizeImageFiles(ImageFiles):
    """Images of any height and width (dense networks are padded to their size multiple)."""

    dynamic_axes = (0, 2, 3)  # batch, height, width

    def example_shapes(self, size_multiple: Any) -> list[tuple[int, ...]]:
        multiple = size_multiple
        step = max(multiple) if isinstance(multiple, (list, tuple)) else int(multiple or 1)
        c = self.channels
        return [(2, c, 2 * step + 3, 3 * step + 1), (1, c, 3 * step, 2 * step + 5)]


@dataclass(frozen=True)
class SpeechChunks:
    """What :class:`SpeechWriter` needs to turn a recording's chunk outputs into a file: the
    recording (its rates and length), the input's phase, and where each chunk's kept frames
    go (``cores[k] = (first frame, last frame + 1, offset in the chunk)``)."""

    recording: Recording
    phase: np.ndarray
    cores: list[tuple[int, int, int]]


class SpeechFiles(SpectrogramFiles):
    """Recordings (``.wav``, ``.flac``, ``.ogg``) as spectrogram chunks at the model's rate.

    A long recording is cut into chunks of ``chunk_frames`` frames that overlap by
    ``chunk_overlap``: each chunk keeps its middle, whose context on both sides is at least
    half the overlap, so memory stays bounded and the stitched output equals the whole-file
    output wherever the network sees no further than that (the TSConv U-Net: a few frames).
    """

    suffixes = AUDIO_SUFFIXES
    chunked = True

    def __init__(
        self,
        kind: str,
        config: dict[str, Any],
        facts: dict[str, Any],
        chunk_frames: int = 1024,
        chunk_overlap: int = 64,
        **options: Any,
    ) -> None:
        super().__init__(kind, config, facts)
        if not 0 <= chunk_overlap < chunk_frames or chunk_overlap % 2:
            raise DataError(
                f"chunk_overlap={chunk_overlap} with chunk_frames={chunk_frames}: the overlap "
                "must be even, at least 0 and below the chunk length (e.g. chunk_frames=1024 "
                "chunk_overlap=64)."
            )
        self.stft = STFT(int(self.data["n_fft"]), int(self.data["hop_length"]))
        self.sample_rate = int(self.data["sample_rate"])
        self.scale = self.data.get("scale", "log10_magnitude")
        self.chunk_frames = chunk_frames
        self.half_overlap = chunk_overlap // 2

    def read(self, path: Source) -> tuple[np.ndarray, SpeechChunks]:
        recording = read_audio(path, self.sample_rate, self.stft.n_fft)
        values, phase = features(self.stft, recording.samples, self.scale)
        chunks, cores = self.split(values)
        return chunks, SpeechChunks(recording, phase, cores)

    def split(self, values: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """Chunks (K × 1 × F × C) of the F × T ``values`` and each one's kept frames."""
        frames = values.shape[1]
        size = self.chunk_frames
        if frames <= size:
            return values[None, None], [(0, frames, 0)]
        step = size - 2 * self.half_overlap
        chunks, cores = [], []
        for first in range(0, frames, step):
            last = min(first + step, frames)
            start = min(max(first - self.half_overlap, 0), frames - size)
            chunks.append(values[:, start : start + size])
            cores.append((first, last, first - start))
        return np.stack(chunks)[:, None], cores


@dataclass(frozen=True)
class WaveformChunks:
    """What :class:`~shiftlab.inference.outputs.PitchWriter` needs besides the chunk
    outputs: the recording and how many frames it has."""

    recording: Recording
    frames: int


class WaveformFrames(InputFormat):
    """Recordings (``.wav``, ``.flac``, ``.ogg``) at the model's rate, for frame networks:
    padded by half a frame at each end (frame ``i`` centred on sample ``i * hop``) and cut
    into chunks of ``chunk_frames`` frames, each with the samples its frames need, so memory
    stays bounded and the frames are exactly those of the whole recording.

    Args:
        chunk_frames: frames per chunk (1024: about 10 s at a 10 ms hop).
    """

    suffixes = AUDIO_SUFFIXES
    dynamic_axes = (0, 1)  # batch, samples
    chunked = True

    def __init__(
        self,
        kind: str,
        config: dict[str, Any],
        facts: dict[str, Any],
        chunk_frames: int = 1024,
        **options: Any,
    ) -> None:
        super().__init__(kind, config, facts)
        if chunk_frames < 1:
            raise DataError(f"chunk_frames={chunk_frames}: a chunk holds at least one frame.")
        self.sample_rate = int(self.data["sample_rate"])
        self.hop_length = int(config["task"]["hop_length"])
        self.frame_length = int(facts.get("frame_length") or 1024)
        self.chunk_frames = chunk_frames

    def read(self, path: Source) -> tuple[np.ndarray, WaveformChunks]:
        from shiftlab.data.frames import centre_padded, frame_count

        recording = read_audio(path, self.sample_rate)
        frames = frame_count(len(recording.samples), self.hop_length)
        padded = centre_padded(recording.samples, self.frame_length)
        per_chunk = min(self.chunk_frames, frames)
        length = (per_chunk - 1) * self.hop_length + self.frame_length
        chunks = []
        for first in range(0, frames, per_chunk):
            piece = padded[first * self.hop_length : first * self.hop_length + length]
            chunks.append(np.pad(piece, (0, length - len(piece))))
        return np.stack(chunks).astype(np.float32), WaveformChunks(recording, frames)

    def example_shapes(self, size_multiple: Any) -> list[tuple[int, ...]]:
        return [
            (2, self.frame_length + 37 * self.hop_length),
            (1, self.frame_length + 64 * self.hop_length),
        ]


class WaveformClips(InputFormat):
    """Recordings at the model's rate as the clips it was tested on: the first
    ``clip_seconds`` of each (a shorter one padded with silence)."""

    suffixes = AUDIO_SUFFIXES
    dynamic_axes = (0,)  # batch

    def __init__(
        self, kind: str, config: dict[str, Any], facts: dict[str, Any], **options: Any
    ) -> None:
        super().__init__(kind, config, facts)
        self.sample_rate = int(self.data["sample_rate"])
        self.samples = int(
            facts.get("samples") or round(self.data["clip_seconds"] * self.sample_rate)
        )

    def read(self, path: Source) -> tuple[np.ndarray, None]:
        samples = read_audio(path, self.sample_rate).samples[: self.samples]
        return np.pad(samples, (0, self.samples - len(samples))).astype(np.float32), None

    def example_shapes(self, size_multiple: Any) -> list[tuple[int, ...]]:
        return [(2, self.samples), (3, self.samples)]
