"""Data modules, datasets and readers; they know nothing of networks."""

from shiftlab.data.classification_modules import (
    ClassificationDataModule,
    FashionMNIST,
    ImageCSV,
    ImageFolder,
)
from shiftlab.data.segmentation_modules import (
    SegmentationDataModule,
    SegmentationFolders,
    ShapesSynth,
)
from shiftlab.data.spectrogram_modules import (
    SpectrogramDataModule,
    SpectrogramNpy,
    SpectrogramSynth,
)

__all__ = [
    "ClassificationDataModule",
    "FashionMNIST",
    "ImageCSV",
    "ImageFolder",
    "SegmentationDataModule",
    "SegmentationFolders",
    "ShapesSynth",
    "SpectrogramDataModule",
    "SpectrogramNpy",
    "SpectrogramSynth",
]
