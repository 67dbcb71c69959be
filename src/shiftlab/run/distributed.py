"""DDP under Hydra: the other processes of a run rebuild the run's config, in single runs and
in sweeps alike.

Lightning starts the other processes of a DDP run by running the launching command again.
Under Hydra it repeats the whole command line, ``-m`` and the swept values included, so in a
multirun each process would start a sweep of its own. :class:`HydraDDPStrategy` starts each
one as ``shiftlab train`` with the job's own overrides, in the job's run directory, writing
nothing there (no ``.hydra/``, no log file): logs, checkpoints and metrics come from rank
zero alone, and metrics are reduced across processes by the tasks' torchmetrics.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

from shiftlab.config.overrides import quoted

# What a launching process sets for its DDP group; cleared when its run ends, so the next
# job of a sweep in the same process starts a group of its own (on a new port).
DDP_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


class HydraDDPStrategy(DDPStrategy):
    """``DDPStrategy`` whose extra processes are ``shiftlab train`` runs of this job's config.

    Takes every argument of Lightning's ``DDPStrategy`` (``process_group_backend: gloo`` on
    CPUs, ``nccl`` on GPUs). When a cluster starts the processes itself (SLURM's ``srun``,
    ``torchrun``), nothing is launched and it behaves exactly like ``DDPStrategy``.
    """

    def _configure_launcher(self) -> None:
        assert self.cluster_environment is not None
        self._launcher = _JobLauncher(self.cluster_environment, self.num_processes, self.num_nodes)


class _JobLauncher(_SubprocessScriptLauncher):
    def _call_children_scripts(self) -> None:
        self._check_can_spawn_children()
        self.procs = []
        env = self.cluster_environment
        os.environ["MASTER_ADDR"] = env.main_address
        os.environ["MASTER_PORT"] = str(env.main_port)
        os.environ["NODE_RANK"] = str(env.node_rank())
        os.environ["LOCAL_RANK"] = str(env.local_rank())
        os.environ["WORLD_SIZE"] = str(self.num_processes * self.num_nodes)
        for local_rank in range(1, self.num_processes):
            child_env = {**os.environ, "LOCAL_RANK": str(local_rank)}
            self.procs.append(subprocess.Popen(rank_command(local_rank), env=child_env))


def rank_command(local_rank: int) -> list[str]:
    """``shiftlab train`` with this job's overrides, in this job's directory, writing nothing."""
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    args: list[str] = []
    for source in hydra_cfg.runtime.config_sources:
        if source.provider == "command-line":  # --config-dir
            args += ["--config-dir", source.path.removeprefix("file://")]
    args += list(hydra_cfg.overrides.task)
    args += [
        f"hydra.run.dir={quoted(hydra_cfg.runtime.output_dir)}",
        f"hydra.job.name=train_rank_{local_rank}",
        "hydra.output_subdir=null",
        "hydra/job_logging=stdout",
    ]
    return [sys.executable, "-m", "shiftlab", "train", *args]


def end_process_group(saved_env: dict[str, Any]) -> None:
    """Leave the DDP group this run joined and restore the variables its launch set."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    for key in DDP_ENV:
        if saved_env.get(key) is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = saved_env[key]
