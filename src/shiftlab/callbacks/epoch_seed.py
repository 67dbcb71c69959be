"""Seed every training epoch from (run seed, epoch), so a resumed run repeats it exactly."""

from __future__ import annotations

import random

import lightning as L
import numpy as np
import torch


class EpochSeed(L.Callback):
    """Reseed Python, NumPy and torch at the start of each training epoch.

    Without it the random state at epoch k depends on everything drawn before (sanity
    check, earlier epochs, a crash), and a run resumed from its last checkpoint would draw
    different dropout masks and augmentations than the run that was interrupted. With it,
    epoch k draws the same numbers however the run got there; data loader workers take their
    seeds from torch's state, so augmentations in workers follow too.

    Args:
        seed: the run's seed (``${seed}``); None leaves the random state alone.
    """

    def __init__(self, seed: int | None) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.seed is None:
            return
        sequence = np.random.SeedSequence([self.seed, trainer.current_epoch, trainer.global_rank])
        value = int(sequence.generate_state(1, dtype=np.uint32)[0])
        random.seed(value)
        np.random.seed(value)
        torch.manual_seed(value)
