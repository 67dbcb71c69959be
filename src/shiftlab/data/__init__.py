"""Data modules, datasets and readers; they know nothing of networks."""

from shiftlab.data.spectrogram_modules import (
    SpectrogramDataModule,
    SpectrogramNpy,
    SpectrogramSynth,
)

__all__ = ["SpectrogramDataModule", "SpectrogramNpy", "SpectrogramSynth"]
