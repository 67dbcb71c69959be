"""Lightning callbacks that show a run's progress."""

from shiftlab.callbacks.epoch_seed import EpochSeed
from shiftlab.callbacks.validation_images import ValidationImages

__all__ = ["EpochSeed", "ValidationImages"]
