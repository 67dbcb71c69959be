"""Speech enhancement: degraded speech in, clean-sounding speech out.

The network maps the degraded recording's spectrogram values (log magnitudes by default) to
the clean recording's; waveforms are rebuilt with the degraded input's phase (or a phase
estimated by Griffin-Lim), so the task is judged on what a listener hears.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torchmetrics import MeanMetric

from shiftlab.data.stft import STFT, griffin_lim, waveform
from shiftlab.spectral_scales import LINEAR_SCALES, LOG_SCALES
from shiftlab.tasks.base import OptimizerFactory, SchedulerFactory
from shiftlab.tasks.regression import SpectrogramRegression
from shiftlab.tasks.speech_losses import MultiResolutionSTFTLoss
from shiftlab.tasks.speech_metrics import si_sdr, stoi

WAVEFORM_METRICS = ("si_sdr", "stoi")


class SpeechEnhancement(SpectrogramRegression):
    """Enhance speech recordings, judged on spectrograms and on rebuilt waveforms.

    Batches are those of :class:`~shiftlab.tasks.SpectrogramRegression` (``input``,
    ``target``, ``mask``, ``lengths``) plus ``phase`` (the input's), the waveforms ``noisy``
    and ``clean`` and their lengths in ``samples`` (:func:`shiftlab.data.speech.speech_collate`).

    Metrics for ``val/`` and ``test/``: ``lsd`` (log-spectral distance, dB, over all frames),
    ``si_sdr`` (dB) and ``stoi`` (0–1), the last two per recording and averaged, each with
    ``_baseline``: the degraded input as it is. The test writes ``test_per_file.csv`` (one row
    per recording). Every validation epoch, ``validation_audio`` gives a few recordings as
    audio (degraded, enhanced, clean) next to their spectrograms.

    Args:
        net, optimizer, schedulers, loss, scale, monitor, monitor_mode, channels_last,
            standardize: see :class:`~shiftlab.tasks.SpectrogramRegression`.
        sample_rate, n_fft, hop_length: the data's STFT (by interpolation from the data).
        stft_loss_weight: weight of a multi-resolution STFT loss on the rebuilt waveform,
            added to the spectrogram loss (0: none).
        phase: ``input`` (the degraded recording's phase) or ``griffin_lim`` (estimated
            from the predicted magnitude, 32 iterations) to rebuild waveforms.
        num_audio: recordings logged as audio every validation epoch.
    """

    kind = "speech_enhancement"

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
        standardize: bool | Literal["input"] = "input",
        sample_rate: int = 16_000,
        n_fft: int = 510,
        hop_length: int = 128,
        stft_loss_weight: float = 0.0,
        phase: Literal["input", "griffin_lim"] = "input",
        num_audio: int = 3,
    ) -> None:
        super().__init__(
            net, optimizer, schedulers, loss, scale, monitor, monitor_mode, channels_last,
            standardize,
        )  # fmt: skip
        if phase not in ("input", "griffin_lim"):
            raise ValueError(f"task.phase must be 'input' or 'griffin_lim', got {phase!r}.")
        self.sample_rate = sample_rate
        self.stft = STFT(n_fft, hop_length)
        self.phase = phase
        self.num_audio = num_audio
        self.stft_loss_weight = stft_loss_weight
        self.stft_loss = MultiResolutionSTFTLoss() if stft_loss_weight > 0 else None
        self.wave_metrics = nn.ModuleDict(
            {
                f"{stage}_{name}{suffix}": MeanMetric(nan_strategy="ignore")
                for stage in ("val", "test")
                for name in WAVEFORM_METRICS
                for suffix in ("", "_baseline")
            }
        )
        self._per_file: list[dict[str, float]] = []

    # -- waveforms -----------------------------------------------------------------------

    def enhanced_waveform(self, values: np.ndarray, phase: np.ndarray, length: int) -> np.ndarray:
        """The waveform of predicted spectrogram ``values`` (F × T) with the input's ``phase``
        (or Griffin-Lim's), ``length`` samples long."""
        if self.phase == "griffin_lim":
            return griffin_lim(self.stft, values, self.scale, length)
        return waveform(self.stft, values, phase, self.scale, length)

    def _torch_waveforms(self, preds: torch.Tensor, phase: torch.Tensor, length: int):
        """Differentiable waveforms (N × length) of predictions with the input phase."""
        if self.scale in LOG_SCALES:
            magnitude = torch.pow(10.0, preds[:, 0].float() * (LOG_SCALES[self.scale] / 20.0))
        else:
            magnitude = preds[:, 0].float().clamp_min(0)
            magnitude = magnitude.sqrt() if LINEAR_SCALES[self.scale] == 10.0 else magnitude
        spectrum = torch.polar(magnitude, phase[:, 0].float())
        window = torch.hann_window(self.stft.n_fft, device=preds.device)
        return torch.istft(
            spectrum, self.stft.n_fft, self.stft.hop_length, window=window, length=length
        )

    # -- steps ---------------------------------------------------------------------------

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        preds, _, _, loss = self._shared_step(batch)
        if self.stft_loss is not None:
            waves = self._torch_waveforms(preds, batch["phase"], batch["clean"].shape[-1])
            loss = loss + self.stft_loss_weight * self.stft_loss(waves, batch["clean"])
        return self.log_training_loss(loss, batch["input"].shape[0])

    def _evaluate(self, batch, metrics, baseline, stage: str) -> dict[str, Any]:
        out = super()._evaluate(batch, metrics, baseline, stage)
        preds = out["preds"].float().cpu().numpy()
        phase = batch["phase"].float().cpu().numpy()
        waves: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for k in range(preds.shape[0]):
            frames, length = int(batch["lengths"][k]), int(batch["samples"][k])
            enhanced = self.enhanced_waveform(
                preds[k, 0, :, :frames], phase[k, 0, :, :frames], length
            )
            clean = batch["clean"][k, :length].cpu().numpy()
            noisy = batch["noisy"][k, :length].cpu().numpy()
            scores = {
                "si_sdr": si_sdr(enhanced, clean),
                "si_sdr_baseline": si_sdr(noisy, clean),
                "stoi": stoi(clean, enhanced, self.sample_rate),
                "stoi_baseline": stoi(clean, noisy, self.sample_rate),
            }
            for name, value in scores.items():
                self.wave_metrics[f"{stage}_{name}"].update(value)
            if stage == "test":
                self._per_file.append({"index": int(batch["index"][k]), **scores})
            waves.append((noisy, enhanced, clean))
        n = preds.shape[0]
        for name in WAVEFORM_METRICS:
            for suffix in ("", "_baseline"):
                metric = self.wave_metrics[f"{stage}_{name}{suffix}"]
                self.log(f"{stage}/{name}{suffix}", metric, on_epoch=True, batch_size=n)
        return {**out, "waves": waves}

    def on_test_epoch_start(self) -> None:
        self._per_file = []

    def on_test_epoch_end(self) -> None:
        """Write ``test_per_file.csv``: each test recording's scores (rank zero)."""
        if not self._per_file or self._trainer is None or not self.trainer.is_global_zero:
            return
        path = Path(self.trainer.default_root_dir) / "test_per_file.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(self._per_file[0]))
            writer.writeheader()
            for row in sorted(self._per_file, key=lambda r: r["index"]):
                writer.writerow({k: v if isinstance(v, int) or not math.isfinite(v) else f"{v:.4f}"
                                 for k, v in row.items()})  # fmt: skip

    def validation_audio(
        self, batch: dict[str, torch.Tensor], outputs: dict[str, Any], num_samples: int
    ) -> dict[str, tuple[np.ndarray, int]]:
        """The first recordings (at most ``task.num_audio``) as ``degraded``, ``enhanced`` and
        ``clean`` audio clips."""
        clips = {}
        shown = min(num_samples, self.num_audio)
        for k, (noisy, enhanced, clean) in enumerate(outputs["waves"][:shown]):
            for name, wave in (("degraded", noisy), ("enhanced", enhanced), ("clean", clean)):
                clips[f"val/audio/{k}_{name}"] = (wave, self.sample_rate)
        return clips
