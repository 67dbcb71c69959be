"""The hand-written training loop the overhead benchmark compares shiftlab with: the same
network, data loader, loss and optimizer, built from a run's config, stepped by plain
PyTorch (``zero_grad, forward, loss, backward, step``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from omegaconf import DictConfig

from shiftlab.run.building import build, task_from_config
from shiftlab.tasks.spectral_metrics import valid_frames


class HandWrittenLoop:
    """Network, optimizer, loss and training loader of ``cfg``, freshly built."""

    def __init__(self, cfg: DictConfig) -> None:
        torch.manual_seed(0)
        self.data = build(cfg.data, "data")
        self.data.setup("fit")
        facts = self.data.network_facts() if hasattr(self.data, "network_facts") else {}
        task = task_from_config(cfg, facts)  # only to reuse its network and loss modules
        self.net = task.net.train()
        self.loss = loss_function(task, self.data)
        self.optimizer = build(cfg.optimizer, "optimizer")(params=self.net.parameters())
        limit = cfg.trainer.get("limit_train_batches")
        self.limit = limit if isinstance(limit, int) else None

    def epoch(self, number: int) -> Iterator[dict]:
        """The training batches of one epoch, in that epoch's order (as Lightning sets it)."""
        loader = self.data.train_dataloader()
        for sampler in (loader.sampler, loader.batch_sampler):
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(number)
        for index, batch in enumerate(loader):
            if self.limit is not None and index >= self.limit:
                return
            yield batch

    def step(self, batch: dict) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.loss(batch).backward()
        self.optimizer.step()

    def timed_epoch(self, number: int, on_first: Callable[[], Any] | None = None) -> list[float]:
        """Run one epoch; return the first step's start (batch loaded) and every step's end."""
        times: list[float] = []
        for batch in self.epoch(number):
            if not times:
                times.append(time.perf_counter())
                if on_first is not None:
                    on_first()
            self.step(batch)
            times.append(time.perf_counter())
        return times


def loss_function(task, data) -> Callable[[dict], torch.Tensor]:
    """The task's loss written out by hand (regression, pitch) or its loss module (the
    others)."""
    cl = torch.channels_last
    net = task.net
    if task.kind == "pitch":
        return pitch_loss(net, task.hop_length, task.train_frames)
    if task.kind == "regression":  # standardised in and out, MSE on real (unpadded) frames
        stats = {k: float(v) for k, v in data.statistics().items()}

        def regression(batch: dict) -> torch.Tensor:
            x = (batch["input"] - stats["input_mean"]) / stats["input_std"]
            pred = net(x.contiguous(memory_format=cl)) * stats["target_std"] + stats["target_mean"]
            mask = batch.get("mask")
            return torch.nn.functional.mse_loss(
                valid_frames(pred, mask), valid_frames(batch["target"], mask)
            )

        return regression
    key = "mask" if task.kind == "segmentation" else "label"
    return lambda batch: task.criterion(net(batch["image"].contiguous(memory_format=cl)),
                                        batch[key])  # fmt: skip


def pitch_loss(net: torch.nn.Module, hop: int, per_clip: int) -> Callable[[dict], torch.Tensor]:
    """CRePE's loss by hand: frames centred every ``hop`` samples, ``per_clip`` of them drawn
    at random from each clip, binary cross-entropy against the true pitch blurred over the
    360 bins by a Gaussian of 25 cents (zeros where unvoiced)."""
    bin_cents = 1997.3794084376191 + 20.0 * torch.arange(360)

    def pitch(batch: dict) -> torch.Tensor:
        audio = torch.nn.functional.pad(batch["audio"], (512, 512))
        frames = audio.unfold(-1, 1024, hop)
        n, count = frames.shape[:2]
        chosen = torch.randint(count, (n, per_clip))
        frames = frames.gather(1, chosen[..., None].expand(-1, -1, 1024)).reshape(-1, 1024)
        f0 = batch["frame_f0"]
        f0 = torch.where(torch.isnan(f0), batch["targets"][:, :1].expand_as(f0), f0)
        f0 = f0.gather(1, chosen).reshape(-1)
        voiced = f0 > 0
        cents = 1200.0 * torch.log2(torch.where(voiced, f0, 1.0) / 10.0)
        target = torch.exp(-((bin_cents - cents[:, None]) ** 2) / (2 * 25.0**2)) * voiced[:, None]
        return torch.nn.functional.binary_cross_entropy_with_logits(net(frames), target)

    return pitch
