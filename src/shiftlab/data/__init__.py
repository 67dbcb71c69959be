"""Data modules, datasets and readers; they know nothing of networks."""

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
    "SegmentationDataModule",
    "SegmentationFolders",
    "ShapesSynth",
    "SpectrogramDataModule",
    "SpectrogramNpy",
    "SpectrogramSynth",
]
