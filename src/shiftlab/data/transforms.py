"""Albumentations pipelines declared in config, applied jointly to image and mask.

A pipeline is a mapping of names to transforms (each built from a ``_target_``), applied in
order. Names make every transform reachable by one override:
``data.train_transforms.hflip.p=0.2`` changes one, ``~data.train_transforms.hflip`` removes it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no version check over the network


def compose(transforms: Mapping[str, Any] | None, random: bool = False):
    """An ``albumentations.Compose`` of the named transforms (``None`` entries are skipped).

    ``random=True`` (training augmentations) makes the pipeline draw from NumPy's global
    random state, as everything else in a run does: albumentations keeps its own generator,
    seeded from the operating system unless told, so without this two runs with one seed
    would augment differently, every data loader worker would repeat the others' draws, and
    a resumed epoch would not repeat the interrupted one."""
    import albumentations as A

    steps = [t for t in (transforms or {}).values() if t is not None]
    for name, t in (transforms or {}).items():
        if t is not None and not callable(t):
            raise TypeError(
                f"Transform '{name}' is {t!r}, not an albumentations transform; give it a "
                "_target_ such as albumentations.HorizontalFlip."
            )
    pipeline = A.Compose(steps)
    return FollowsGlobalSeed(pipeline) if random else pipeline


class FollowsGlobalSeed:
    """An albumentations pipeline reseeded from NumPy's global state before every call, so
    ``seed_everything``, the per-epoch seed and Lightning's per-worker seeds decide its draws."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def __getattr__(self, name: str) -> Any:  # .transforms and the rest, as on the pipeline
        if name == "pipeline":
            raise AttributeError(name)
        return getattr(self.pipeline, name)

    def __repr__(self) -> str:
        return f"FollowsGlobalSeed({self.pipeline!r})"

    def __call__(self, **data: Any) -> dict[str, Any]:
        import numpy as np

        self.pipeline.set_random_seed(int(np.random.randint(0, 2**31 - 1)))
        return self.pipeline(**data)
