"""Tasks: one LightningModule per problem, each holding an injected network.

What each kind of task is (the networks and data it takes, what ``predict`` reads and
writes for it, the metrics its reports show) is declared in :mod:`shiftlab.tasks.kinds`,
which imports no torch. The task classes are imported when first named
(``shiftlab.tasks.ImageClassification``), so that reading the registry costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "ImageClassification": "classification",
    "SemanticSegmentation": "segmentation",
    "SpectrogramRegression": "regression",
    "Task": "base",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULES])
