"""Frame-wise pitch estimation as CRePE trains it: 360 pitch bins per frame, each a binary
decision against a Gaussian-blurred target, decoded by a weighted average around the peak
(or along a Viterbi path), a frame called voiced where its confidence reaches a threshold."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torchmetrics import CatMetric, MeanMetric

from shiftlab import pitch_bins
from shiftlab.tasks.base import OptimizerFactory, SchedulerFactory
from shiftlab.tasks.pitch_metrics import frame_scores, melody_metrics
from shiftlab.tasks.waveform import WaveformTask
from shiftlab.visuals import pitch_track_image

# Logged for val/ and test/: shares of frames (mir_eval's definitions), then cents.
SHARES = {
    "raw_pitch_accuracy": "pitch_correct",
    "raw_chroma_accuracy": "chroma_correct",
}


class PitchEstimation(WaveformTask):
    """Estimate the pitch of every frame of a clip.

    Batches are those of :mod:`shiftlab.data.labelled_audio`: ``audio`` (N × samples), the
    clip's pitch as its first target (Hz), and ``frame_f0`` (per frame, where the data knows
    it; 0 Hz marks an unvoiced frame). Frames are centred on every ``hop_length``-th sample.

    The network (``output = "frame_vectors"``, CRePE) gives 360 logits per frame, one per
    20-cent bin; the loss is binary cross-entropy against a Gaussian of ``target_std_cents``
    around the true pitch (all zeros on unvoiced frames, which teaches a low confidence).

    Metrics for ``val/`` and ``test/``, over voiced reference frames as mir_eval counts them:
    ``raw_pitch_accuracy`` and ``raw_chroma_accuracy`` (within 50 cents; octave errors
    forgiven in the second), ``median_cents_error``; ``overall_accuracy`` over all frames
    (voicing too); ``loss``. The test writes ``test_per_file.csv``. Every validation epoch,
    ``val/pitch_tracks`` draws true and predicted pitch over the first clips' spectrograms,
    which play as audio.

    Args:
        net, optimizer, schedulers, monitor, monitor_mode, sample_rate, hop_length,
            train_frames, num_audio: see :class:`~shiftlab.tasks.waveform.WaveformTask`.
        num_outputs: 360, CRePE's pitch bins (stated so the model follows by interpolation).
        target_std_cents: the blur of the target (25 cents in CRePE).
        viterbi: decode along the most likely path (smoother, no single-frame octave jumps)
            instead of each frame's peak.
        voicing_threshold: the confidence (largest activation) from which a frame is voiced.
    """

    kind = "pitch"
    mode = "multilabel"  # an exported model returns sigmoid activations per bin

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        schedulers: Mapping[str, SchedulerFactory] | None = None,
        monitor: str = "val/raw_pitch_accuracy",
        monitor_mode: Literal["min", "max"] = "max",
        sample_rate: int = 16_000,
        hop_length: int = 160,
        train_frames: int = 16,
        num_audio: int = 3,
        num_outputs: int = pitch_bins.BINS,
        target_std_cents: float = pitch_bins.TARGET_STD_CENTS,
        viterbi: bool = False,
        voicing_threshold: float = 0.5,
    ) -> None:
        super().__init__(
            net, optimizer, schedulers, monitor, monitor_mode, sample_rate, hop_length,
            train_frames, num_audio,
        )  # fmt: skip
        if num_outputs != pitch_bins.BINS or getattr(net, "out_channels", None) not in (
            None, pitch_bins.BINS,
        ):  # fmt: skip
            raise ValueError(
                f"task=pitch needs a network with {pitch_bins.BINS} outputs (CRePE's pitch "
                f"bins); keep task.num_outputs={pitch_bins.BINS} and model.num_outputs at "
                "${task.num_outputs}."
            )
        if not 0 <= voicing_threshold <= 1:
            raise ValueError(f"task.voicing_threshold={voicing_threshold} must be within 0–1.")
        self.target_std_cents = float(target_std_cents)
        self.viterbi = viterbi
        self.voicing_threshold = float(voicing_threshold)
        self.register_buffer(
            "bin_cents", torch.tensor(pitch_bins.BIN_CENTS, dtype=torch.float32), persistent=False
        )
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.shares = nn.ModuleDict(
            {
                f"{stage}_{name}": MeanMetric()
                for stage in ("val", "test")
                for name in (*SHARES, "overall_accuracy")
            }
        )
        self.cents_errors = nn.ModuleDict({s: CatMetric() for s in ("val", "test")})
        self._per_file: list[dict[str, float]] = []

    # -- what the model computes --------------------------------------------------------

    def forward(self, padded: torch.Tensor) -> torch.Tensor:
        """Logits (N × frames × 360) of every frame of ``padded``, audio already padded by
        half a frame at each end (frame ``i`` centred on sample ``i * hop_length`` of the
        recording); ``predict`` pads recordings, the steps pad clips."""
        return self.frame_outputs(self.frames(padded))

    def targets(self, f0: torch.Tensor) -> torch.Tensor:
        """Gaussian-blurred bins of each pitch in ``f0`` (Hz; 0: unvoiced, all zeros)."""
        voiced = f0 > 0
        cents = 1200.0 * torch.log2(torch.where(voiced, f0, 1.0) / pitch_bins.REFERENCE_HZ)
        blurred = torch.exp(
            -((self.bin_cents - cents[..., None]) ** 2) / (2 * self.target_std_cents**2)
        )
        return blurred * voiced[..., None]

    @staticmethod
    def reference_f0(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Each frame's true pitch: the data's per-frame pitch where it has one, the clip's
        pitch (its first target) elsewhere."""
        frame_f0 = batch["frame_f0"]
        clip_f0 = batch["targets"][:, :1].expand_as(frame_f0)
        return torch.where(torch.isnan(frame_f0), clip_f0, frame_f0)

    # -- steps --------------------------------------------------------------------------

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        frames, chosen = self.sampled_frames(self.frames(self.centre_padded(batch["audio"])))
        logits = self.frame_outputs(frames)
        f0 = self.reference_f0(batch).gather(1, chosen)
        loss = self.loss_fn(logits, self.targets(f0))
        return self.log_training_loss(loss, batch["audio"].shape[0])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        return self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        return self._evaluate(batch, "test")

    def _evaluate(self, batch: dict[str, torch.Tensor], stage: str) -> dict[str, Any]:
        logits = self(self.centre_padded(batch["audio"]))
        reference = self.reference_f0(batch)
        n = logits.shape[0]
        loss = self.loss_fn(logits, self.targets(reference))
        self.log(f"{stage}/loss", loss, on_epoch=True, sync_dist=True, batch_size=n)
        activations = torch.sigmoid(logits.float()).cpu().numpy()
        predicted, confidence = pitch_bins.decode(activations, self.viterbi)
        voiced = confidence >= self.voicing_threshold
        truth = reference.float().cpu().numpy()
        scores = frame_scores(truth, predicted, voiced)
        device = logits.device
        for name, key in SHARES.items():
            on_voiced = scores[key][scores["voiced"]]
            if on_voiced.size:
                self.shares[f"{stage}_{name}"].update(torch.as_tensor(on_voiced, device=device))
        self.shares[f"{stage}_overall_accuracy"].update(
            torch.as_tensor(scores["overall_correct"], dtype=torch.float32, device=device)
        )
        errors = scores["cents_error"][scores["voiced"]]
        if errors.size:
            self.cents_errors[stage].update(torch.as_tensor(errors, device=device))
        if stage == "test":
            for k in range(n):
                row = melody_metrics(truth[k], predicted[k], voiced[k])
                self._per_file.append({"index": int(batch["index"][k]), **row})
        return {"loss": loss.detach(), "f0": predicted, "voiced": voiced, "truth": truth}

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_start(self) -> None:
        self._per_file = []

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")
        self._write_per_file()

    def _log_epoch(self, stage: str) -> None:
        for name in (*SHARES, "overall_accuracy"):
            metric = self.shares[f"{stage}_{name}"]
            if metric.update_called:
                self.log(f"{stage}/{name}", metric.compute(), sync_dist=True)
            metric.reset()
        errors = self.cents_errors[stage]
        if errors.update_called:
            values = errors.compute()
            values = values if values.dim() else values[None]
            self.log(f"{stage}/median_cents_error", values.float().median(), sync_dist=True)
        errors.reset()

    def _write_per_file(self) -> None:
        """``test_per_file.csv``: each test clip's metrics (rank zero, with the clips of
        every process)."""
        if not self._per_file or self._trainer is None:
            return
        names = list(self._per_file[0])
        rows = self.gathered_rows(np.array([[row[n] for n in names] for row in self._per_file]))
        if not self.trainer.is_global_zero:
            return
        path = Path(self.trainer.default_root_dir) / "test_per_file.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(names)
            for row in rows:
                cells = [f"{v:.4f}" if math.isfinite(v) else "nan" for v in row[1:]]
                writer.writerow([int(row[0]), *cells])

    # -- what TensorBoard shows ---------------------------------------------------------

    def validation_images(
        self, batch: dict[str, torch.Tensor], outputs: dict[str, Any], num_samples: int
    ) -> dict[str, np.ndarray]:
        """True (white) and predicted (cyan) pitch over the first clips' spectrograms."""
        shown = min(num_samples, batch["audio"].shape[0])
        audio = batch["audio"][:shown].detach().float().cpu().numpy()
        image = pitch_track_image(
            list(audio), self.sample_rate, self.hop_length, list(outputs["truth"][:shown]),
            list(outputs["f0"][:shown]), list(outputs["voiced"][:shown]),
        )  # fmt: skip
        return {"val/pitch_tracks": image}

    def validation_text(
        self, batch: dict[str, torch.Tensor], outputs: dict[str, Any], num_samples: int
    ) -> dict[str, str]:
        """A table of the played clips: true and predicted median pitch of voiced frames."""
        rows = ["| clip | true f0 (Hz) | predicted f0 (Hz) | voiced frames |", "|---|---|---|---|"]
        shown = min(num_samples, self.num_audio, batch["audio"].shape[0])
        for k in range(shown):
            truth, voiced = outputs["truth"][k], outputs["voiced"][k]
            true_f0 = np.median(truth[truth > 0]) if (truth > 0).any() else 0.0
            predicted = np.median(outputs["f0"][k][voiced]) if voiced.any() else 0.0
            rows.append(f"| {k} | {true_f0:.1f} | {predicted:.1f} | {voiced.mean():.0%} |")
        return {"val/audio_values": "\n".join(rows)}
