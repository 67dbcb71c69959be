"""Data modules, datasets and readers; they know nothing of networks.

The data modules are Lightning modules, and importing Lightning takes seconds; they are
imported when first named (``shiftlab.data.SpectrogramSynth``), so that a script using
only a reader or a synthesiser (``shiftlab.data.synthetic_speech``) does not pay for it.
"""

from __future__ import annotations

from shiftlab.lazy import lazy_attributes

_MODULES = {
    "AudioCSV": "audio_modules",
    "DrumsSynth": "audio_modules",
    "LabelledAudioDataModule": "audio_modules",
    "ClassificationDataModule": "classification_modules",
    "FashionMNIST": "classification_modules",
    "ImageCSV": "classification_modules",
    "ImageFolder": "classification_modules",
    "SegmentationDataModule": "segmentation_modules",
    "SegmentationFolders": "segmentation_modules",
    "ShapesSynth": "segmentation_modules",
    "SpeechDataModule": "speech_modules",
    "SpeechSynth": "speech_modules",
    "SpeechWav": "speech_modules",
    "SpectrogramDataModule": "spectrogram_modules",
    "SpectrogramNpy": "spectrogram_modules",
    "SpectrogramSynth": "spectrogram_modules",
    "TonesSynth": "audio_modules",
}

__all__ = sorted(_MODULES)

__getattr__, __dir__ = lazy_attributes(__name__, _MODULES)
