"""Spectrogram-to-spectrogram regression (e.g. bone-conduction to air-conduction speech)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection

from shiftlab.spectral_scales import check_scale
from shiftlab.tasks.base import OptimizerFactory, SchedulerFactory, Task
from shiftlab.tasks.spectral_metrics import LogSpectralDistance, valid_frames
from shiftlab.visuals import spectrogram_panels

LOSSES: dict[str, type[nn.Module]] = {
    "mse": nn.MSELoss,
    "l1": nn.L1Loss,
    "huber": nn.HuberLoss,
    "smooth_l1": nn.SmoothL1Loss,
}


def make_loss(loss: str | nn.Module) -> nn.Module:
    if isinstance(loss, nn.Module):
        return loss
    if loss not in LOSSES:
        raise ValueError(
            f"Unknown regression loss {loss!r}. Use one of {', '.join(LOSSES)}, or any torch "
            "loss by _target_, e.g. task.loss='{_target_: torch.nn.HuberLoss, delta: 0.5}'."
        )
    return LOSSES[loss]()


class SpectrogramRegression(Task):
    """Predict a target spectrogram from an input spectrogram of the same size.

    Batches are dicts with ``input`` and ``target`` (N × C × F × T) and an optional ``mask``
    (N × T, True on real frames): padded frames count in neither the loss nor the metrics.

    Metrics, each for train (loss only), ``val/`` and ``test/``: ``mse``, ``mae`` and ``lsd``
    (log-spectral distance in dB). Validation and test also log the same metrics for the
    identity baseline (the input taken as the prediction) with the suffix ``_baseline``, so a
    glance tells whether the model beats doing nothing.

    Args:
        net, optimizer, schedulers, monitor, monitor_mode, channels_last: see
            :class:`~shiftlab.tasks.Task`.
        loss: ``mse``, ``l1``, ``huber``, ``smooth_l1`` or a loss module (any torch loss by
            ``_target_`` in the config).
        scale: how the spectrogram values map to decibels (``log10_magnitude``, ``db``,
            ``magnitude``, ... see :mod:`shiftlab.tasks.spectral_metrics`); the data config
            says it and the task follows by interpolation.
        standardize: feed the network standardised inputs, ``(x - mean) / std``, and map its
            output back with the targets' mean and std (``true``), or with the inputs' own
            (``input``: a network that predicts a correction to its input, such as
            ``model.residual=true``, then starts as the identity). The statistics come from
            the training split (``datamodule.statistics()``) at the start of fitting and are
            saved in the checkpoint, so predictions from a checkpoint need no data. Networks
            train faster on values near zero with unit spread than on raw log-magnitudes.
    """

    kind = "regression"

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        schedulers: Mapping[str, SchedulerFactory] | None = None,
        loss: str | nn.Module = "mse",
        scale: str = "log10_magnitude",
        monitor: str = "val/lsd",
        monitor_mode: Literal["min", "max"] = "min",
        channels_last: bool = True,
        standardize: bool | Literal["input"] = True,
    ) -> None:
        super().__init__(net, optimizer, schedulers, monitor, monitor_mode, channels_last)
        if standardize not in (True, False, "input"):
            raise ValueError(f"task.standardize must be true, false or input, got {standardize!r}.")
        self.standardize = standardize
        for name, value in (
            ("input_mean", 0.0),
            ("input_std", 1.0),
            ("target_mean", 0.0),
            ("target_std", 1.0),
        ):
            self.register_buffer(name, torch.tensor(value))
        self.loss_fn = make_loss(loss)
        self.scale = check_scale(scale)
        metrics = MetricCollection(
            {
                "mse": MeanSquaredError(),
                "mae": MeanAbsoluteError(),
                "lsd": LogSpectralDistance(scale),
            }
        )
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.val_baseline = metrics.clone(prefix="val/", postfix="_baseline")
        self.test_baseline = metrics.clone(prefix="test/", postfix="_baseline")

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if self.standardize and stage == "fit" and hasattr(datamodule, "statistics"):
            statistics = dict(datamodule.statistics())
            if self.standardize == "input":
                statistics["target_mean"] = statistics["input_mean"]
                statistics["target_std"] = statistics["input_std"]
            for name, value in statistics.items():
                getattr(self, name).fill_(value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict targets in the data's own scale (standardisation is undone inside)."""
        if not self.standardize:
            return super().forward(x)
        z = super().forward((x - self.input_mean) / self.input_std)
        return z * self.target_std + self.target_mean

    def _shared_step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        preds = self(batch["input"])
        if preds.shape != batch["target"].shape:
            raise ValueError(
                f"The network returned shape {tuple(preds.shape)} for targets of shape "
                f"{tuple(batch['target'].shape)}; a regression network must keep the size."
            )
        mask = batch.get("mask")
        pred_frames = valid_frames(preds, mask)
        target_frames = valid_frames(batch["target"], mask)
        loss = self.loss_fn(pred_frames, target_frames)
        return preds, pred_frames, target_frames, loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        _, _, _, loss = self._shared_step(batch)
        return self.log_training_loss(loss, batch["input"].shape[0])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        return self._evaluate(batch, self.val_metrics, self.val_baseline, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        return self._evaluate(batch, self.test_metrics, self.test_baseline, "test")

    def _evaluate(
        self,
        batch: dict[str, torch.Tensor],
        metrics: MetricCollection,
        baseline: MetricCollection,
        stage: str,
    ) -> dict[str, Any]:
        preds, pred_frames, target_frames, loss = self._shared_step(batch)
        input_frames = valid_frames(batch["input"], batch.get("mask"))
        metrics.update(pred_frames, target_frames)
        baseline.update(input_frames, target_frames)
        n = batch["input"].shape[0]
        self.log(f"{stage}/loss", loss, on_epoch=True, sync_dist=True, batch_size=n)
        self.log_dict(metrics, on_epoch=True, batch_size=n)
        self.log_dict(baseline, on_epoch=True, batch_size=n)
        return {"preds": preds.detach()}

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self(batch["input"])

    def validation_images(
        self, batch: dict[str, torch.Tensor], outputs: dict[str, Any], num_samples: int
    ) -> dict[str, Any]:
        """``input | target | prediction`` pictures of the first samples, real frames only."""
        preds = outputs["preds"]
        lengths = batch.get("lengths")
        images = {}
        for k in range(min(num_samples, preds.shape[0])):
            length = int(lengths[k]) if lengths is not None else preds.shape[-1]
            panels = [
                t[k, 0, :, :length].detach().float().cpu().numpy()
                for t in (batch["input"], batch["target"], preds)
            ]
            images[f"val/spectrograms/{k}_input_target_prediction"] = spectrogram_panels(panels)
        return images
