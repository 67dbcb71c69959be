"""Tasks: one LightningModule per problem, each holding an injected network.

What each kind of task is (the networks and data it takes, what ``predict`` reads and
writes for it, the metrics its reports show) is declared in :mod:`shiftlab.tasks.kinds`,
which imports no torch. The task classes are imported when first named
(``shiftlab.tasks.ImageClassification``), so that reading the registry costs nothing.
"""

from __future__ import annotations

from shiftlab.lazy import lazy_attributes

_MODULES = {
    "AudioRegression": "audio_regression",
    "ImageClassification": "classification",
    "PitchEstimation": "pitch",
    "SemanticSegmentation": "segmentation",
    "SpeechEnhancement": "speech_enhancement",
    "SpectrogramRegression": "regression",
    "Task": "base",
    "WaveformTask": "waveform",
}

__all__ = sorted(_MODULES)

__getattr__, __dir__ = lazy_attributes(__name__, _MODULES)
