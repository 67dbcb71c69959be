"""Pictures of inputs, targets and predictions (numpy in, H×W×3 uint8 out)."""

from shiftlab.visuals.spectrograms import spectrogram_panels

__all__ = ["spectrogram_panels"]
