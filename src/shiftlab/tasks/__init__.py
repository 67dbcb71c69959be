"""Tasks: one LightningModule per problem, each holding an injected network."""

from shiftlab.tasks.base import Task
from shiftlab.tasks.regression import SpectrogramRegression

__all__ = ["SpectrogramRegression", "Task"]
