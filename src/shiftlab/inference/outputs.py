"""Write what ``predict`` found; one writer per kind of output, named by a task kind in
:mod:`shiftlab.tasks.kinds`. numpy and Pillow only."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shiftlab.visuals import class_colours, overlay, spectrogram_panels


@dataclass(frozen=True)
class Answer:
    """What ``serve`` answers for one file: JSON content, or bytes with their media type."""

    json: dict[str, Any] | None = None
    content: bytes | None = None
    media_type: str = "application/json"


class PredictionWriter:
    """Writes the outputs of one input file at a time into ``output_dir``.

    Args:
        output_dir: where the outputs go (created); None for a writer whose answers are
            used in memory only (``serve``), which writes nothing.
        config, facts: the model's stored config and data facts (class names live there).
    """

    def __init__(
        self, output_dir: Path | None, config: dict[str, Any], facts: dict[str, Any]
    ) -> None:
        self.output_dir = output_dir
        if output_dir is not None:
            output_dir.mkdir(parents=True, exist_ok=True)
        names = facts.get("class_names") or config["data"].get("class_names")
        count = config["data"].get("num_classes") or 0
        self.class_names = list(names or [f"class_{i}" for i in range(count)])

    def write(self, path: Path, x: np.ndarray, output: np.ndarray, picture: Any) -> list[Path]:
        """Write the outputs of the input file ``path`` (``output`` without the batch axis);
        returns the files written."""
        raise NotImplementedError

    def answer(self, output: np.ndarray, context: Any) -> Answer:
        """The same content for one file, in memory, as ``serve`` answers it."""
        raise NotImplementedError


class SpectrogramWriter(PredictionWriter):
    """``<name>.npy`` (the predicted F×T spectrogram) and ``<name>.png`` (input | prediction)."""

    def write(self, path: Path, x: np.ndarray, output: np.ndarray, picture: Any) -> list[Path]:
        from PIL import Image

        stem = self.output_dir / path.stem
        np.save(stem.with_suffix(".npy"), output[0] if output.shape[0] == 1 else output)
        Image.fromarray(spectrogram_panels([x[0], output[0]])).save(stem.with_suffix(".png"))
        return [stem.with_suffix(".npy"), stem.with_suffix(".png")]

    def answer(self, output: np.ndarray, context: Any) -> Answer:
        buffer = io.BytesIO()
        np.save(buffer, output[0] if output.shape[0] == 1 else output)
        return Answer(content=buffer.getvalue(), media_type="application/x-npy")


def class_mask(output: np.ndarray) -> np.ndarray:
    """The class index of every pixel (uint8) of a segmentation output (C×H×W)."""
    mask = (output[0] > 0.5) if output.shape[0] == 1 else output.argmax(axis=0)
    return mask.astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """``image`` as PNG bytes: what ``predict`` writes and ``serve`` answers, byte for byte."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


class MaskWriter(PredictionWriter):
    """``<name>_mask.png`` (class indices) and ``<name>_overlay.png`` (the mask over the image)."""

    def write(self, path: Path, x: np.ndarray, output: np.ndarray, picture: Any) -> list[Path]:
        from PIL import Image

        mask = class_mask(output)
        mask_path = self.output_dir / f"{path.stem}_mask.png"
        overlay_path = self.output_dir / f"{path.stem}_overlay.png"
        mask_path.write_bytes(png_bytes(mask))
        colours = class_colours(max(len(self.class_names), 2))
        blended = overlay(picture.astype(np.float32) / 255.0, mask, colours)
        Image.fromarray((blended * 255).round().astype(np.uint8)).save(overlay_path)
        return [mask_path, overlay_path]

    def answer(self, output: np.ndarray, context: Any) -> Answer:
        return Answer(content=png_bytes(class_mask(output)), media_type="image/png")


class ClassTableWriter(PredictionWriter):
    """One row per file in ``predictions.csv``: predicted class, its probability, and every
    class's probability."""

    def __init__(
        self, output_dir: Path | None, config: dict[str, Any], facts: dict[str, Any]
    ) -> None:
        super().__init__(output_dir, config, facts)
        self.csv_path = output_dir / "predictions.csv" if output_dir is not None else None
        if self.csv_path is not None:
            with self.csv_path.open("w", newline="") as f:
                csv.writer(f).writerow(["file", "predicted", "probability", *self.class_names])

    def answer(self, output: np.ndarray, context: Any) -> Answer:
        return Answer(json=self.scores(output))

    def scores(self, output: np.ndarray) -> dict[str, Any]:
        """The predicted class, its probability and every class's."""
        best = int(output.argmax())
        return {
            "predicted": self.class_names[best],
            "probability": float(output[best]),
            "probabilities": dict(zip(self.class_names, map(float, output), strict=True)),
        }

    def write(self, path: Path, x: np.ndarray, output: np.ndarray, picture: Any) -> list[Path]:
        best = int(output.argmax())
        with self.csv_path.open("a", newline="") as f:
            row = [str(path), self.class_names[best], f"{output[best]:.6f}"]
            csv.writer(f).writerow(row + [f"{p:.6f}" for p in output])
        return [self.csv_path]


class SpeechWriter(PredictionWriter):
    """The enhanced recording, under the input's file name, at its sample rate and length.

    Chunk outputs are stitched (each chunk's kept frames), turned into a waveform with the
    input's phase (or Griffin-Lim's, as the task was configured), and resampled back to the
    file's rate where the model's differs.
    """

    def __init__(
        self, output_dir: Path | None, config: dict[str, Any], facts: dict[str, Any]
    ) -> None:
        super().__init__(output_dir, config, facts)
        from shiftlab.data.stft import STFT

        data = config["data"]
        self.stft = STFT(int(data["n_fft"]), int(data["hop_length"]))
        self.scale = data.get("scale", "log10_magnitude")
        self.griffin_lim = config.get("task", {}).get("phase") == "griffin_lim"

    def write(self, path: Path, x: np.ndarray, output: np.ndarray, context: Any) -> list[Path]:
        from shiftlab.data.audio import write_audio

        wave, rate = self.enhanced(output, context)
        target = self.output_dir / path.name
        write_audio(target, wave, rate)
        return [target]

    def answer(self, output: np.ndarray, context: Any) -> Answer:
        import soundfile

        wave, rate = self.enhanced(output, context)
        buffer = io.BytesIO()
        soundfile.write(buffer, np.clip(wave, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
        return Answer(content=buffer.getvalue(), media_type="audio/wav")

    def enhanced(self, output: np.ndarray, context: Any) -> tuple[np.ndarray, int]:
        """The enhanced recording (at the input file's rate and length) and its rate."""
        from shiftlab.data.audio import resample
        from shiftlab.data.stft import griffin_lim, waveform

        recording = context.recording
        values = np.empty_like(context.phase)
        for chunk, (first, last, offset) in zip(output, context.cores, strict=True):
            values[:, first:last] = chunk[0][:, offset : offset + last - first]
        length = len(recording.samples)
        if self.griffin_lim:
            wave = griffin_lim(self.stft, values, self.scale, length)
        else:
            wave = waveform(self.stft, values, context.phase, self.scale, length)
        wave = resample(wave, recording.sample_rate, recording.file_rate)
        wave = np.pad(wave, (0, max(0, recording.file_frames - len(wave))))
        return wave[: recording.file_frames], recording.file_rate


class PitchWriter(PredictionWriter):
    """``predictions.csv``: one row per recording, its median pitch over voiced frames (empty
    when none is voiced), median confidence and share of voiced frames; and
    ``<name>_pitch.csv`` per recording: time (s), f0 (Hz) and confidence of every frame, the
    pitch decoded as the task was configured (peak or Viterbi)."""

    def __init__(
        self, output_dir: Path | None, config: dict[str, Any], facts: dict[str, Any]
    ) -> None:
        super().__init__(output_dir, config, facts)
        task = config["task"]
        self.hop_seconds = int(task["hop_length"]) / int(config["data"]["sample_rate"])
        self.viterbi = bool(task.get("viterbi", False))
        self.threshold = float(task.get("voicing_threshold", 0.5))
        self.csv_path = output_dir / "predictions.csv" if output_dir is not None else None
        if self.csv_path is not None:
            with self.csv_path.open("w", newline="") as f:
                csv.writer(f).writerow(["file", "f0", "confidence", "voiced_share"])

    def track(self, output: np.ndarray, context: Any) -> tuple[np.ndarray, ...]:
        """(f0, confidence, voiced) of every frame of a recording's chunk outputs."""
        from shiftlab.pitch_bins import decode

        activations = output.reshape(-1, output.shape[-1])[: context.frames]
        f0, confidence = decode(activations, self.viterbi)
        return f0, confidence, confidence >= self.threshold

    def answer(self, output: np.ndarray, context: Any) -> Answer:
        return Answer(json=self.summary(output, context))

    def summary(self, output: np.ndarray, context: Any) -> dict[str, Any]:
        """A recording's median pitch over voiced frames, and its frames (for ``serve``)."""
        f0, confidence, voiced = self.track(output, context)
        return {
            **_pitch_of_file(f0, confidence, voiced),
            "hop_seconds": self.hop_seconds,
            "frames": {"f0": [round(float(v), 2) for v in f0],
                       "confidence": [round(float(v), 4) for v in confidence]},
        }  # fmt: skip

    def write(self, path: Path, x: np.ndarray, output: np.ndarray, context: Any) -> list[Path]:
        f0, confidence, voiced = self.track(output, context)
        track = self.output_dir / f"{path.stem}_pitch.csv"
        with track.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["time", "f0", "confidence"])
            for i, (hz, conf) in enumerate(zip(f0, confidence, strict=True)):
                writer.writerow([f"{i * self.hop_seconds:.3f}", f"{hz:.2f}", f"{conf:.4f}"])
        pitch = _pitch_of_file(f0, confidence, voiced)
        median = "" if pitch["f0"] is None else f"{pitch['f0']:.2f}"
        with self.csv_path.open("a", newline="") as f:
            row = [str(path), median, f"{pitch['confidence']:.4f}", f"{pitch['voiced_share']:.4f}"]
            csv.writer(f).writerow(row)
        return [self.csv_path, track]


def _pitch_of_file(f0: np.ndarray, confidence: np.ndarray, voiced: np.ndarray) -> dict:
    """A recording's pitch: the median over voiced frames (None when none is), the median
    confidence and the share of voiced frames."""
    return {
        "f0": float(np.median(f0[voiced])) if voiced.any() else None,
        "confidence": float(np.median(confidence)),
        "voiced_share": float(voiced.mean()),
    }


class TargetTableWriter(PredictionWriter):
    """``predictions.csv``: one row per recording, ``file`` and its predicted value of every
    target (named as in the training data)."""

    def __init__(
        self, output_dir: Path | None, config: dict[str, Any], facts: dict[str, Any]
    ) -> None:
        super().__init__(output_dir, config, facts)
        count = int(facts.get("num_outputs") or config["task"].get("num_outputs") or 1)
        names = facts.get("target_names") or config["task"].get("target_names")
        self.names = list(names or [f"target_{k}" for k in range(count)])
        self.csv_path = output_dir / "predictions.csv" if output_dir is not None else None
        if self.csv_path is not None:
            with self.csv_path.open("w", newline="") as f:
                csv.writer(f).writerow(["file", *self.names])

    def answer(self, output: np.ndarray, context: Any) -> Answer:
        return Answer(json=self.values(output))

    def values(self, output: np.ndarray) -> dict[str, float]:
        return dict(zip(self.names, map(float, np.asarray(output).reshape(-1)), strict=True))

    def write(self, path: Path, x: np.ndarray, output: np.ndarray, context: Any) -> list[Path]:
        values = np.asarray(output).reshape(-1)
        with self.csv_path.open("a", newline="") as f:
            csv.writer(f).writerow([str(path), *(f"{v:.6g}" for v in values)])
        return [self.csv_path]
