"""What each kind of task is, for everything outside its LightningModule: one entry per kind.

A task class names its kind (``kind = "segmentation"``) and the rest of shiftlab asks this
registry instead of matching names: the launch checks (which networks and data a task can
use), ``predict`` (which files it reads, what it writes), ``export`` (which input axes are
dynamic, through the input format), the exported model (values or probabilities) and the
sweep report (which test metrics it shows). Checkpoints and ONNX files store the kind's
name, so a model is used from its file alone.

Nothing here imports torch: ``predict`` from an ``.onnx`` file reads this registry too.
Input formats and writers are named by import path and loaded when asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from shiftlab.errors import ShiftlabError

# What a network returns (its class attribute ``output``), in words for messages.
NETWORK_OUTPUTS = {
    "dense": "a map the size of its input",
    "vector": "one score per class",
    "frame_vectors": "one vector per frame of a waveform",
    "clip_vector": "one vector per waveform clip",
}

# What a data module's batches hold (its class attribute ``provides``), in words for messages.
SAMPLES = {
    "spectrogram_pairs": "pairs of input and target spectrograms",
    "image_mask_pairs": "images with their masks",
    "labelled_images": "images with a class label each",
    "speech_pairs": "degraded and clean recordings of the same speech",
    "labelled_audio": "audio clips with target values (per clip, and pitch per frame)",
}


@dataclass(frozen=True)
class TaskKind:
    """One kind of task.

    Attributes:
        name: stored in checkpoints and exported models; the task class's ``kind``.
        network_outputs: what the network may return (keys of :data:`NETWORK_OUTPUTS`; a
            waveform regression takes per-frame vectors, which it averages, or one per clip).
        trains_on: what the data's batches must hold (a key of :data:`SAMPLES`).
        model_returns: what an exported model returns: the task's own ``values``, or class
            ``probabilities`` (softmax; sigmoid for binary and multilabel tasks).
        predict_reads: ``module:Class`` of the input format that ``predict`` reads files with
            and ``export`` takes its dynamic axes and example inputs from.
        predict_writes: ``module:Class`` of the writer of ``predict``'s outputs.
        report_metrics: the test metrics a sweep report shows, in order (the CSV has all).
    """

    name: str
    network_outputs: tuple[str, ...]
    trains_on: str
    model_returns: Literal["values", "probabilities"]
    predict_reads: str
    predict_writes: str
    report_metrics: tuple[str, ...]

    def input_format(self) -> Any:
        """The class that reads ``predict``'s files into this kind's model input."""
        return _load(self.predict_reads)

    def writer(self) -> Any:
        """The class that writes ``predict``'s outputs for this kind."""
        return _load(self.predict_writes)


KINDS: dict[str, TaskKind] = {
    kind.name: kind
    for kind in (
        TaskKind(
            name="regression",
            network_outputs=("dense",),
            trains_on="spectrogram_pairs",
            model_returns="values",
            predict_reads="shiftlab.inference.inputs:SpectrogramFiles",
            predict_writes="shiftlab.inference.outputs:SpectrogramWriter",
            report_metrics=("lsd", "lsd_baseline", "mse", "mse_baseline", "mae", "mae_baseline"),
        ),
        TaskKind(
            name="speech_enhancement",
            network_outputs=("dense",),
            trains_on="speech_pairs",
            model_returns="values",
            predict_reads="shiftlab.inference.inputs:SpeechFiles",
            predict_writes="shiftlab.inference.outputs:SpeechWriter",
            report_metrics=(
                "lsd",
                "lsd_baseline",
                "si_sdr",
                "si_sdr_baseline",
                "stoi",
                "stoi_baseline",
            ),
        ),
        TaskKind(
            name="segmentation",
            network_outputs=("dense",),
            trains_on="image_mask_pairs",
            model_returns="probabilities",
            predict_reads="shiftlab.inference.inputs:AnySizeImageFiles",
            predict_writes="shiftlab.inference.outputs:MaskWriter",
            report_metrics=("iou", "dice", "pixel_accuracy", "loss"),
        ),
        TaskKind(
            name="classification",
            network_outputs=("vector",),
            trains_on="labelled_images",
            model_returns="probabilities",
            predict_reads="shiftlab.inference.inputs:ImageFiles",
            predict_writes="shiftlab.inference.outputs:ClassTableWriter",
            report_metrics=("accuracy", "f1", "precision", "recall", "top5_accuracy", "loss"),
        ),
        TaskKind(
            name="pitch",
            network_outputs=("frame_vectors",),
            trains_on="labelled_audio",
            model_returns="probabilities",
            predict_reads="shiftlab.inference.inputs:WaveformFrames",
            predict_writes="shiftlab.inference.outputs:PitchWriter",
            report_metrics=(
                "raw_pitch_accuracy",
                "raw_chroma_accuracy",
                "median_cents_error",
                "overall_accuracy",
                "loss",
            ),
        ),
        TaskKind(
            name="audio_regression",
            network_outputs=("frame_vectors", "clip_vector"),
            trains_on="labelled_audio",
            model_returns="values",
            predict_reads="shiftlab.inference.inputs:WaveformClips",
            predict_writes="shiftlab.inference.outputs:TargetTableWriter",
            report_metrics=("r2", "relative_error", "mae_ratio", "loss"),
        ),
    )
}


def task_kind(name: str, source: str) -> TaskKind:
    """The registered kind called ``name``; ``source`` names the file or class in errors."""
    if name not in KINDS:
        raise ShiftlabError(
            f"{source} is of the task kind {name!r}, which this shiftlab does not know (it "
            f"knows {', '.join(KINDS)}). It was written by another version of shiftlab or "
            "by hand; use the shiftlab that trained it, or a checkpoint of a known kind."
        )
    return KINDS[name]


def _load(reference: str) -> Any:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)
