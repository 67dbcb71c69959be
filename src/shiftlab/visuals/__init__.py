"""Pictures of inputs, targets and predictions (numpy in, H×W×3 uint8 out)."""

from shiftlab.visuals.masks import (
    class_colours,
    confusion_matrix_image,
    displayable,
    framed,
    overlay,
    sample_grid,
)
from shiftlab.visuals.sound import pitch_track_image, predicted_against_true
from shiftlab.visuals.spectrograms import spectrogram_panels

__all__ = [
    "class_colours",
    "confusion_matrix_image",
    "displayable",
    "framed",
    "overlay",
    "pitch_track_image",
    "predicted_against_true",
    "sample_grid",
    "spectrogram_panels",
]
