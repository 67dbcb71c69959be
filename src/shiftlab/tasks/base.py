"""What every task shares: the injected network, optimizer and schedulers, and the monitor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import lightning as L
import torch
from torch import nn

import shiftlab
from shiftlab.config.schema import check_value
from shiftlab.errors import TrainingDiverged
from shiftlab.tasks.kinds import KINDS
from shiftlab.tasks.padding import crop_to, pad_to_multiple

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], Any]


class Task(L.LightningModule):
    """A LightningModule around an injected network.

    Every task class names its ``kind``, a key of :data:`shiftlab.tasks.kinds.KINDS` (or
    inherits one): the networks and data it takes, what ``predict`` reads and writes, how
    ``export`` feeds it, the metrics its reports show. A class that names none, or one not in
    the registry, is refused when it is defined; an intermediate base class that is never
    trained says so with ``class MyBase(Task, abstract=True)``.

    Args:
        net: the network (a plain ``nn.Module``), built from the ``model`` group.
        optimizer: a partially applied optimizer class (the ``optimizer`` group); it receives
            the network's parameters.
        schedulers: named, partially applied learning-rate schedulers (the ``scheduler``
            group); each receives the optimizer and steps once per epoch. Several may be
            chained, e.g. exponential decay with a cut on plateau. Empty for a constant rate.
        monitor: the metric that checkpointing, early stopping, ``ReduceLROnPlateau`` and
            sweeps all follow. Named once, in the task's config.
        monitor_mode: ``min`` or ``max``: whether a lower or a higher ``monitor`` is better.
        channels_last: run the network in channels-last memory format. On CPUs (and on
            tensor-core GPUs) convolutions with few channels run 2–4× faster that way.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        schedulers: Mapping[str, SchedulerFactory] | None = None,
        monitor: str = "val/loss",
        monitor_mode: Literal["min", "max"] = "min",
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        check_value("task.monitor_mode", monitor_mode)
        self.channels_last = channels_last
        self.net = net.to(memory_format=torch.channels_last) if channels_last else net
        self.optimizer_factory = optimizer
        self.scheduler_factories = dict(schedulers or {})
        self.monitor = monitor
        self.monitor_mode = monitor_mode
        # The composed, resolved run config (plain data) and the facts the data discovered
        # (classes, channels), stored in every checkpoint so a model can be rebuilt from the
        # checkpoint alone. Set by the training entry point.
        self.run_config: dict[str, Any] | None = None
        self.data_facts: dict[str, Any] = {}

    kind: ClassVar[str]

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        kind = getattr(cls, "kind", None)
        if kind not in KINDS:
            raise TypeError(
                f"Task class {cls.__name__} ({cls.__module__}) declares kind = {kind!r}; a "
                f"task names one of the kinds of shiftlab.tasks.kinds.KINDS ({', '.join(KINDS)})"
                ' as a class attribute, e.g. kind = "segmentation" (a new kind gets a TaskKind '
                "there), or is declared abstract: class MyBase(Task, abstract=True)."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the network on ``x``, padded to the size multiple it declares, cropped back."""
        padded, size = pad_to_multiple(x, getattr(self.net, "size_multiple", None))
        if self.channels_last and padded.dim() == 4:
            padded = padded.contiguous(memory_format=torch.channels_last)
        out = self.net(padded)
        if padded.shape[-2:] != x.shape[-2:] and out.dim() == x.dim():
            out = crop_to(out, size)  # a dense prediction of the padded input
        return out

    def log_training_loss(self, loss: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Stop with advice when the loss is NaN or infinite; else log it (per step and epoch)."""
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"The training loss became {loss.item()} at step {self.global_step}. Lower "
                "optimizer.lr, add trainer.gradient_clip_val=1.0, or check the data for NaN."
            )
        self.log(
            "train/loss",
            loss,
            on_step=True,
            on_epoch=True,
            prog_bar=True,
            batch_size=batch_size,
            sync_dist=True,  # the mean over all processes under DDP (a no-op otherwise)
        )
        return loss

    def configure_optimizers(self) -> dict[str, Any] | tuple[list, list]:
        optimizer = self.optimizer_factory(params=self.net.parameters())
        if not self.scheduler_factories:
            return {"optimizer": optimizer}
        configs = []
        for name, factory in self.scheduler_factories.items():
            scheduler = factory(optimizer=optimizer)
            config = {"scheduler": scheduler, "interval": "epoch", "name": f"lr/{name}"}
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                config["monitor"] = self.monitor
            configs.append(config)
        return [optimizer], configs

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Make the checkpoint self-describing: plain data only (it loads with weights_only).

        The resolved config rebuilds network, task and data; ``data_facts`` carries what the
        data discovered at launch (classes, channels, sizes); ``metrics`` the values at save
        time; ``size_multiple`` the input size rule of the network.
        """
        metrics = {}
        if self._trainer is not None:
            for key, value in self.trainer.callback_metrics.items():
                metrics[key] = float(value)
        multiple = getattr(self.net, "size_multiple", None)
        checkpoint["shiftlab"] = {
            "version": shiftlab.__version__,
            "kind": self.kind,
            "config": self.run_config,
            "data_facts": dict(self.data_facts),
            "monitor": self.monitor,
            "monitor_mode": self.monitor_mode,
            "metrics": metrics,
            "size_multiple": list(multiple) if isinstance(multiple, tuple) else multiple,
        }
