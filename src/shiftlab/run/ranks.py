"""Which process of a distributed run this is, from its environment (no torch needed)."""

from __future__ import annotations

import os

# Set by the DDP launcher (LOCAL_RANK, NODE_RANK), torchrun (RANK) or SLURM (SLURM_PROCID),
# the variables Lightning reads too.
RANK_VARIABLES = ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK")


def is_rank_zero() -> bool:
    """Whether this process writes the run's files: true outside DDP and for its first rank."""
    return all(os.environ.get(key, "0") == "0" for key in RANK_VARIABLES)
