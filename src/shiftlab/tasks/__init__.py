"""Tasks: one LightningModule per problem, each holding an injected network."""

from shiftlab.tasks.base import Task
from shiftlab.tasks.classification import ImageClassification
from shiftlab.tasks.regression import SpectrogramRegression
from shiftlab.tasks.segmentation import SemanticSegmentation

__all__ = ["ImageClassification", "SemanticSegmentation", "SpectrogramRegression", "Task"]
