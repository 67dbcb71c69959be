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


def compose(transforms: Mapping[str, Any] | None):
    """An ``albumentations.Compose`` of the named transforms (``None`` entries are skipped)."""
    import albumentations as A

    steps = [t for t in (transforms or {}).values() if t is not None]
    for name, t in (transforms or {}).items():
        if t is not None and not callable(t):
            raise TypeError(
                f"Transform '{name}' is {t!r}, not an albumentations transform; give it a "
                "_target_ such as albumentations.HorizontalFlip."
            )
    return A.Compose(steps)
