"""Sound-to-parameter regression: one or more continuous values per clip (a drum's size and
aspect, a note's pitch, a room's reverberation time) from its waveform."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torchmetrics import MeanMetric, R2Score

from shiftlab.tasks.base import OptimizerFactory, SchedulerFactory
from shiftlab.tasks.regression import make_loss
from shiftlab.tasks.waveform import WaveformTask
from shiftlab.visuals import predicted_against_true

# Per target and averaged over targets, for val/ and test/.
PER_TARGET = ("mae", "mae_baseline", "relative_error")


class AudioRegression(WaveformTask):
    """Predict ``num_outputs`` values per clip.

    Batches are those of :mod:`shiftlab.data.labelled_audio` (``audio``, ``targets``). A frame
    network (CRePE as a backbone) is run on frames every ``hop_length`` samples and its
    outputs averaged into the clip's prediction (in training on ``train_frames`` frames drawn
    at random); a clip network (``model=waveform_layers``) sees the clip whole. The network
    works on standardised targets, ``(y - mean) / std`` with the training split's mean and
    std (kept in the checkpoint); the task's output is in the targets' own units.

    Metrics for ``val/`` and ``test/``, per target (``val/mae/size``) and averaged over targets
    (``val/r2``): ``mae`` (in the target's units), ``mae_baseline`` (predicting the training
    mean for every clip), ``mae_ratio`` (mae over mae_baseline: below 1 beats the baseline),
    ``relative_error`` (mean of ``|error| / |true|``), ``r2``; ``loss`` on standardised
    values. The test writes ``test_predictions.csv`` (true and predicted per clip) and
    ``test_predicted_vs_true.png``.

    Args:
        net, optimizer, schedulers, monitor, monitor_mode, sample_rate, hop_length,
            train_frames, num_audio: see :class:`~shiftlab.tasks.waveform.WaveformTask`.
        num_outputs: the number of targets (from the data).
        target_names: their names (from the data).
        loss: ``mse``, ``l1``, ``huber``, ``smooth_l1`` or a loss module, on standardised
            values.
        standardize: standardise the targets (recommended: targets of different units
            weigh alike in the loss).
    """

    kind = "audio_regression"

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        schedulers: Mapping[str, SchedulerFactory] | None = None,
        monitor: str = "val/loss",
        monitor_mode: Literal["min", "max"] = "min",
        sample_rate: int = 16_000,
        hop_length: int = 1024,
        train_frames: int = 8,
        num_audio: int = 3,
        num_outputs: int = 1,
        target_names: Sequence[str] | None = None,
        loss: str | nn.Module = "mse",
        standardize: bool = True,
    ) -> None:
        super().__init__(
            net, optimizer, schedulers, monitor, monitor_mode, sample_rate, hop_length,
            train_frames, num_audio,
        )  # fmt: skip
        produces = getattr(net, "out_channels", num_outputs)
        if produces != num_outputs:
            raise ValueError(
                f"The network gives {produces} outputs for {num_outputs} targets; leave "
                "model.num_outputs at ${task.num_outputs} (one per data.target_columns)."
            )
        self.num_outputs = int(num_outputs)
        self.target_names = list(target_names or [f"target_{k}" for k in range(num_outputs)])
        if len(self.target_names) != self.num_outputs:
            raise ValueError(
                f"task.target_names has {len(self.target_names)} names for {num_outputs} targets."
            )
        self.standardize = standardize
        self.register_buffer("target_mean", torch.zeros(self.num_outputs))
        self.register_buffer("target_std", torch.ones(self.num_outputs))
        self.loss_fn = make_loss(loss)
        self.per_target = nn.ModuleDict(
            {
                f"{stage}_{name}_{k}": MeanMetric()
                for stage in ("val", "test")
                for name in PER_TARGET
                for k in range(self.num_outputs)
            }
        )
        self.r2 = nn.ModuleDict(
            {
                stage: R2Score(multioutput="raw_values") if self.num_outputs > 1 else R2Score()
                for stage in ("val", "test")
            }
        )
        self._test_rows: list[np.ndarray] = []

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if self.standardize and stage == "fit" and hasattr(datamodule, "statistics"):
            statistics = datamodule.statistics()
            self.target_mean.copy_(torch.as_tensor(statistics["target_mean"]))
            self.target_std.copy_(torch.as_tensor(statistics["target_std"]))

    # -- what the model computes --------------------------------------------------------

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """The targets (N × num_outputs, in their units) of clips ``audio`` (N × samples)."""
        return self.standardised_outputs(audio) * self.target_std + self.target_mean

    def standardised_outputs(self, audio: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """The network's clip outputs: of the clip, or the mean over its frames (over
        ``train_frames`` frames drawn at random when ``sample``)."""
        if not self.takes_frames:
            return self.net(audio)
        frames = self.frames(self.centre_padded(audio))
        if sample:
            frames, _ = self.sampled_frames(frames)
        return self.frame_outputs(frames).mean(dim=1)

    def standardised(self, targets: torch.Tensor) -> torch.Tensor:
        return (targets - self.target_mean) / self.target_std

    # -- steps --------------------------------------------------------------------------

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        outputs = self.standardised_outputs(batch["audio"], sample=True)
        loss = self.loss_fn(outputs, self.standardised(batch["targets"]))
        return self.log_training_loss(loss, batch["audio"].shape[0])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        return self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        out = self._evaluate(batch, "test")
        index = batch["index"].detach().cpu().numpy()[:, None].astype(np.float64)
        true = batch["targets"].detach().float().cpu().numpy()
        self._test_rows.append(np.concatenate([index, true, out["predicted"]], axis=1))
        return out

    def _evaluate(self, batch: dict[str, torch.Tensor], stage: str) -> dict[str, Any]:
        targets = batch["targets"].float()
        outputs = self.standardised_outputs(batch["audio"])
        n = outputs.shape[0]
        loss = self.loss_fn(outputs, self.standardised(targets))
        self.log(f"{stage}/loss", loss, on_epoch=True, sync_dist=True, batch_size=n)
        predicted = outputs * self.target_std + self.target_mean
        errors = (predicted - targets).abs()
        values = {
            "mae": errors,
            "mae_baseline": (targets - self.target_mean).abs(),
            "relative_error": errors / targets.abs().clamp_min(1e-8),
        }
        for name, value in values.items():
            for k in range(self.num_outputs):
                self.per_target[f"{stage}_{name}_{k}"].update(value[:, k])
        self.r2[stage].update(predicted.squeeze(1) if self.num_outputs == 1 else predicted,
                              targets.squeeze(1) if self.num_outputs == 1 else targets)  # fmt: skip
        return {"loss": loss.detach(), "predicted": predicted.detach().float().cpu().numpy()}

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_start(self) -> None:
        self._test_rows = []

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")
        self._write_test_predictions()

    def _log_epoch(self, stage: str) -> None:
        """Per-target and averaged metrics (computed over every process: ``sync_dist`` only
        tells Lightning so)."""
        if not self.per_target[f"{stage}_mae_0"].update_called:
            return
        means: dict[str, list[float]] = {name: [] for name in PER_TARGET}
        for name in PER_TARGET:
            for k, target in enumerate(self.target_names):
                metric = self.per_target[f"{stage}_{name}_{k}"]
                value = metric.compute()
                metric.reset()
                means[name].append(float(value))
                self.log(f"{stage}/{name}/{target}", value, sync_dist=True)
        ratios = [m / b if b > 0 else float("nan") for m, b in
                  zip(means["mae"], means["mae_baseline"], strict=True)]  # fmt: skip
        for k, target in enumerate(self.target_names):
            self.log(f"{stage}/mae_ratio/{target}", ratios[k], sync_dist=True)
        if int(self.r2[stage].total) >= 2:  # R² needs two clips at least
            r2 = self.r2[stage].compute().reshape(-1)
            for k, target in enumerate(self.target_names):
                self.log(f"{stage}/r2/{target}", r2[k], sync_dist=True)
            self.log(f"{stage}/r2", r2.mean(), sync_dist=True)
        self.r2[stage].reset()
        self.log(f"{stage}/mae_ratio", float(np.mean(ratios)), sync_dist=True)
        self.log(f"{stage}/relative_error", float(np.mean(means["relative_error"])), sync_dist=True)

    def _write_test_predictions(self) -> None:
        """``test_predictions.csv`` and ``test_predicted_vs_true.png`` (rank zero, with the
        clips of every process)."""
        if not self._test_rows or self._trainer is None:
            return
        rows = self.gathered_rows(np.concatenate(self._test_rows))
        if not self.trainer.is_global_zero:
            return
        k = self.num_outputs
        folder = Path(self.trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "test_predictions.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["index", *(f"true_{t}" for t in self.target_names),
                             *(f"predicted_{t}" for t in self.target_names)])  # fmt: skip
            for row in rows:
                writer.writerow([int(row[0]), *(f"{v:.6g}" for v in row[1:])])
        from PIL import Image

        image = predicted_against_true(rows[:, 1 : 1 + k], rows[:, 1 + k :], self.target_names)
        Image.fromarray(image).save(folder / "test_predicted_vs_true.png")
        for logger in self.loggers:
            if hasattr(logger.experiment, "add_image"):
                logger.experiment.add_image(
                    "test/predicted_vs_true", image, self.global_step, dataformats="HWC"
                )

    # -- what TensorBoard shows ---------------------------------------------------------

    def validation_images(
        self, batch: dict[str, torch.Tensor], outputs: dict[str, Any], num_samples: int
    ) -> dict[str, np.ndarray]:
        """Predicted against true values over the first validation batch."""
        true = batch["targets"].detach().float().cpu().numpy()
        image = predicted_against_true(true, outputs["predicted"], self.target_names)
        return {"val/predicted_vs_true": image}

    def validation_text(
        self, batch: dict[str, torch.Tensor], outputs: dict[str, Any], num_samples: int
    ) -> dict[str, str]:
        """A table of the played clips' true and predicted values."""
        names = self.target_names
        header = " | ".join(f"true {t} | predicted {t}" for t in names)
        rows = [f"| clip | {header} |", "|---|" + "---|" * (2 * len(names))]
        shown = min(num_samples, self.num_audio, batch["audio"].shape[0])
        true = batch["targets"].detach().float().cpu().numpy()
        for k in range(shown):
            cells = " | ".join(
                f"{true[k, j]:.4g} | {outputs['predicted'][k, j]:.4g}" for j in range(len(names))
            )
            rows.append(f"| {k} | {cells} |")
        return {"val/audio_values": "\n".join(rows)}
