"""Training augmentations follow the run's seed: albumentations keeps its own random
generator, and shiftlab reseeds it from NumPy's global state at every call, so one seed
gives one sequence of augmentations (two runs, a resumed epoch, each loader worker its own)."""

from __future__ import annotations

import numpy as np
from hydra.utils import instantiate
from omegaconf import OmegaConf

from shiftlab.data.transforms import compose

FLIPS = OmegaConf.create({
    "hflip": {"_target_": "albumentations.HorizontalFlip", "p": 0.5},
    "rotate90": {"_target_": "albumentations.RandomRotate90", "p": 0.5},
})  # fmt: skip


def draws(seed: int, count: int = 12) -> list[bytes]:
    pipeline = compose(instantiate(FLIPS), random=True)  # a fresh pipeline, as in a new run
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    np.random.seed(seed)
    return [pipeline(image=image)["image"].tobytes() for _ in range(count)]


def test_one_seed_one_sequence_of_augmentations():
    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    assert len(set(draws(7))) > 1  # still random within the sequence
    pipeline = compose(instantiate(FLIPS), random=True)
    assert [type(t).__name__ for t in pipeline.transforms] == ["HorizontalFlip", "RandomRotate90"]


def test_evaluation_transforms_stay_plain_albumentations():
    import albumentations as A

    assert isinstance(compose(instantiate(FLIPS)), A.Compose)
