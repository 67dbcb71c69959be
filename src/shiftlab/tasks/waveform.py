"""What tasks on waveforms share: cutting clips into the frames a frame network (CRePE) takes,
running the network on all frames or on a random few of each clip, and what they show in
TensorBoard besides pictures (the clips as audio, their values as a table)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from shiftlab.tasks.base import OptimizerFactory, SchedulerFactory, Task


class WaveformTask(Task, abstract=True):
    """A task whose inputs are mono waveforms (N × samples) at ``sample_rate``.

    A network with ``output = "frame_vectors"`` sees frames of its ``frame_length`` samples,
    one every ``hop_length`` samples; one with ``output = "clip_vector"`` sees whole clips.

    Args:
        net, optimizer, schedulers, monitor, monitor_mode: see :class:`~shiftlab.tasks.Task`.
        sample_rate: of the clips (from the data).
        hop_length: samples between frames.
        train_frames: frames drawn at random from each clip per training step (0: all). A
            frame network costs per frame, and neighbouring frames teach much the same.
        num_audio: clips played in TensorBoard every validation epoch.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        schedulers: Mapping[str, SchedulerFactory] | None = None,
        monitor: str = "val/loss",
        monitor_mode: Literal["min", "max"] = "min",
        sample_rate: int = 16_000,
        hop_length: int = 160,
        train_frames: int = 0,
        num_audio: int = 3,
    ) -> None:
        super().__init__(net, optimizer, schedulers, monitor, monitor_mode, channels_last=False)
        if hop_length < 1 or train_frames < 0:
            raise ValueError(
                f"task.hop_length ({hop_length}) must be at least 1 and task.train_frames "
                f"({train_frames}) at least 0."
            )
        self.sample_rate = int(sample_rate)
        self.hop_length = int(hop_length)
        self.train_frames = int(train_frames)
        self.num_audio = num_audio
        self.frame_length = getattr(net, "frame_length", None)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Also store the network's frame length: ``predict`` cuts recordings into the
        frames it takes, from an ``.onnx`` file as from a checkpoint."""
        super().on_save_checkpoint(checkpoint)
        if self.frame_length is not None:
            checkpoint["shiftlab"]["data_facts"]["frame_length"] = int(self.frame_length)

    @property
    def takes_frames(self) -> bool:
        return getattr(self.net, "output", None) == "frame_vectors"

    def frames(self, padded: torch.Tensor) -> torch.Tensor:
        """The frames of ``padded`` (N × samples; frame ``i`` starts at sample
        ``i * hop_length``): N × frames × frame_length, a view, not a copy."""
        assert self.frame_length is not None, "frames are for frame networks"
        if padded.shape[-1] < self.frame_length:
            padded = nn.functional.pad(padded, (0, self.frame_length - padded.shape[-1]))
        return padded.unfold(-1, self.frame_length, self.hop_length)

    def frame_outputs(self, frames: torch.Tensor) -> torch.Tensor:
        """The network on every frame of ``frames`` (N × F × frame_length): N × F × outputs."""
        n, count = frames.shape[:2]
        return self.net(frames.reshape(n * count, -1)).reshape(n, count, -1)

    def sampled_frames(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``train_frames`` frames of each clip drawn at random (all when it is 0), and their
        indices (N × chosen)."""
        n, count, length = frames.shape
        if not self.train_frames:
            return frames, torch.arange(count, device=frames.device).expand(n, count)
        chosen = torch.randint(count, (n, self.train_frames), device=frames.device)
        return frames.gather(1, chosen[..., None].expand(-1, -1, length)), chosen

    def centre_padded(self, audio: torch.Tensor) -> torch.Tensor:
        """``audio`` with half a frame of zeros at each end (frame ``i`` centred on sample
        ``i * hop_length``, as :mod:`shiftlab.data.frames` counts them)."""
        assert self.frame_length is not None
        half = self.frame_length // 2
        return nn.functional.pad(audio, (half, self.frame_length - half))

    def gathered_rows(self, rows: np.ndarray) -> np.ndarray:
        """Per-clip rows (first column: the clip's index) from every process under DDP, each
        clip once, in index order (the distributed sampler repeats clips to even out)."""
        if self._trainer is not None and self.trainer.world_size > 1:
            local = torch.as_tensor(rows, dtype=torch.float64, device=self.device)
            rows = self.all_gather(local).reshape(-1, rows.shape[1]).cpu().numpy()
        _, first = np.unique(rows[:, 0], return_index=True)
        return rows[first]

    def validation_audio(
        self, batch: dict[str, torch.Tensor], outputs: dict[str, Any], num_samples: int
    ) -> dict[str, tuple[np.ndarray, int]]:
        """The first clips of the batch (at most ``task.num_audio``)."""
        shown = min(num_samples, self.num_audio, batch["audio"].shape[0])
        audio = batch["audio"][:shown].detach().float().cpu().numpy()
        return {f"val/audio/{k}": (audio[k], self.sample_rate) for k in range(shown)}
