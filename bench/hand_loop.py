"""The hand-written training loop the overhead benchmark compares shiftlab with: the same
network, data loader, loss and optimizer, built from a run's config, stepped by plain
PyTorch (``zero_grad, forward, loss, backward, step``).

On a GPU it does what a careful user writes by hand, as the run's trainer config says: the
network on the device, batches copied with ``non_blocking`` (from pinned memory when the
loader pins), and the forward pass and loss under ``torch.autocast`` in the run's precision
(``bf16-mixed`` → bfloat16; ``16-mixed`` → float16 with a gradient scaler), weights in
float32, as Lightning's mixed precision keeps them.
"""

from __future__ import annotations

import contextlib
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
        self.device = training_device(cfg)
        self.autocast_dtype = autocast_dtype(cfg) if self.device.type == "cuda" else None
        task.to(self.device)  # the network and any loss buffers (class weights)
        self.net = task.net.train()
        self.loss = loss_function(task, self.data)
        self.optimizer = build(cfg.optimizer, "optimizer")(params=self.net.parameters())
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast_dtype == torch.float16)
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
        batch = self.to_device(batch)
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            loss = self.loss(batch)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def to_device(self, batch: dict) -> dict:
        """The batch on the device, finished as the data module finishes it there (image
        data: uint8 images normalised, masks made int64), the work Lightning's
        ``on_after_batch_transfer`` hook does in shiftlab's own step."""
        if self.device.type != "cpu":
            batch = {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor)
                     else v for k, v in batch.items()}  # fmt: skip
        return self.data.on_after_batch_transfer(batch, 0)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def synchronize(self) -> None:
        """Wait for the device's queued work, so that a clock read after it is honest."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def timed_epoch(self, number: int, on_first: Callable[[], Any] | None = None) -> list[float]:
        """Run one epoch; return the first step's start (batch loaded) and every step's end."""
        times: list[float] = []
        for batch in self.epoch(number):
            if not times:
                times.append(time.perf_counter())
                if on_first is not None:
                    on_first()
            self.step(batch)
            self.synchronize()
            times.append(time.perf_counter())
        return times


def training_device(cfg: DictConfig) -> torch.device:
    """The device the run's trainer trains on: CUDA when it asks for a GPU (or ``auto`` with
    one present), else the CPU."""
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    wants_gpu = accelerator in ("gpu", "cuda") or (
        accelerator == "auto" and torch.cuda.is_available()
    )
    return torch.device("cuda", 0) if wants_gpu else torch.device("cpu")


def autocast_dtype(cfg: DictConfig) -> torch.dtype | None:
    """The autocast dtype of the trainer's precision (``bf16-mixed``, ``16-mixed``), or None."""
    precision = str(cfg.trainer.get("precision", "32"))
    if precision.startswith("bf16"):
        return torch.bfloat16
    if precision.startswith("16"):
        return torch.float16
    return None


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
