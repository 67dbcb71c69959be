"""Show (and play) what the model predicts, in TensorBoard, every validation epoch."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger


class ValidationImages(L.Callback):
    """Log pictures of the first validation samples: input, target and prediction; and, for
    tasks on sound, the same as audio.

    The task draws its own pictures (``task.validation_images(batch, outputs, n)`` returns a
    dict of tag → H×W×3 uint8 image) and, if it has ``validation_audio``, its clips (tag →
    (mono waveform, sample rate)), and if it has ``validation_text``, Markdown (the values
    the clips have and were given), so one callback serves every task. The first
    validation batch is used (the validation loader is not shuffled: the same samples every
    epoch) with the predictions the task already computed for it.

    Args:
        num_samples: how many samples to show.
        every_n_epochs: draw on every n-th validation epoch.
    """

    def __init__(self, num_samples: int = 4, every_n_epochs: int = 1) -> None:
        self.num_samples = num_samples
        self.every_n_epochs = max(1, every_n_epochs)

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if (
            batch_idx != 0
            or trainer.sanity_checking
            or not trainer.is_global_zero
            or trainer.current_epoch % self.every_n_epochs
            or not hasattr(pl_module, "validation_images")
        ):
            return
        writers = [lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if not writers:
            return
        step = trainer.global_step
        images = pl_module.validation_images(batch, outputs, self.num_samples)
        for tag, image in images.items():
            for writer in writers:
                writer.add_image(tag, image, global_step=step, dataformats="HWC")
        if hasattr(pl_module, "validation_audio"):
            import torch

            clips = pl_module.validation_audio(batch, outputs, self.num_samples)
            for tag, (wave, rate) in clips.items():
                clip = torch.as_tensor(wave, dtype=torch.float32).clamp(-1, 1)[None]
                for writer in writers:
                    writer.add_audio(tag, clip, global_step=step, sample_rate=rate)
        if hasattr(pl_module, "validation_text"):
            for tag, text in pl_module.validation_text(batch, outputs, self.num_samples).items():
                for writer in writers:
                    writer.add_text(tag, text, global_step=step)
