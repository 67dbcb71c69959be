"""Normalisation on the device: image batches travel as uint8 and become float there.

The data configs end their pipelines with ``normalize: {_target_: albumentations.Normalize,
mean: ..., std: ...}``. Applied in the loader, that step turns every uint8 pixel into a float32
one: four times the bytes to build, collate, pin and copy to the device, and on the CPU the
largest cost of the whole pipeline (``torch.stack`` of float32 images and the Normalize lookup
tables). With ``data.normalize_on_device: true`` (the default) the data module takes that last
step out of the loader's pipeline and applies the same arithmetic to the batch once it is on
the device (Lightning's ``on_after_batch_transfer`` hook), as DALI, FFCV and torchgeo's data
modules do. The ``normalize`` entry keeps its meaning: the same mean, std and
``max_pixel_value``, the same float32 values (computed as albumentations computes them, so the
batches match the loader-side ones to float rounding).

The step moves only when it can move without changing a result: it is the pipeline's last
transform, always applied (``p: 1``), ``normalization: standard``, and the train and eval
pipelines normalise alike (one hook serves both). Otherwise it stays in the loader. An image
that is not uint8 when it reaches the end of the pipeline (a float source, or a transform that
returns floats) is normalised in the loader as before, so a batch arrives either uint8
(normalised on the device) or float (already normalised).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DeviceNormalize:
    """``(x - shift) * scale`` per channel in float32: albumentations' standard Normalize,
    whose ``shift`` is ``mean * max_pixel_value`` and ``scale`` ``1 / (std * max_pixel_value)``
    (both float32, taken from the transform itself)."""

    shift: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def of(cls, transform: Any) -> DeviceNormalize:
        shift = np.atleast_1d(np.asarray(transform.mean_np, dtype=np.float32))
        scale = np.atleast_1d(np.asarray(transform.denominator, dtype=np.float32))
        return cls(tuple(shift.tolist()), tuple(scale.tolist()))

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """An N×C×H×W uint8 batch as normalised float32, in the batch's memory format.

        On a CPU, one native pass (:mod:`shiftlab.data.native_normalize`, 0.04 ms per
        256×256 RGB image on one core) where it can be built. Otherwise torch's passes over
        a 2-D view whose rows are long (a pixel row of a channels-last batch, the shift and
        scale repeated along it; or a whole channel plane of a contiguous one): broadcasting
        a 3-value vector along the innermost dimension instead runs about 5× slower on a
        CPU, and so does a subtraction that reads the uint8 input and writes float32 in one
        operation (measured 0.1 against 0.5 ms per 256×256 image). The values are the same
        on every path."""
        import torch

        n, c, h, w = images.shape
        per_channel_shift = self._per_channel(self.shift, c)
        per_channel_scale = self._per_channel(self.scale, c)
        if images.device.type == "cpu":
            from shiftlab.data.native_normalize import normalize_u8

            out = normalize_u8(images, per_channel_shift, per_channel_scale)
            if out is not None:
                return out
        shift = torch.tensor(per_channel_shift, dtype=torch.float32)
        scale = torch.tensor(per_channel_scale, dtype=torch.float32)
        shift, scale = shift.to(images.device), scale.to(images.device)
        if images.is_contiguous(memory_format=torch.channels_last):
            rows = images.permute(0, 2, 3, 1).reshape(n * h, w * c)  # a view, no copy
            out = rows.to(torch.float32).sub_(shift.repeat(w)).mul_(scale.repeat(w))
            return out.view(n, h, w, c).permute(0, 3, 1, 2)
        planes = images.contiguous().view(n, c, h * w)
        out = planes.to(torch.float32).sub_(shift.view(c, 1)).mul_(scale.view(c, 1))
        return out.view(n, c, h, w)

    @staticmethod
    def _per_channel(values: tuple[float, ...], channels: int) -> list[float]:
        if len(values) == channels:
            return list(values)
        if len(values) == 1:
            return list(values) * channels
        raise ValueError(
            f"The normalize transform has {len(values)} values for {channels}-channel images; "
            "give data.mean and data.std one value per channel."
        )


def to_float_batch(images: torch.Tensor, normalize: DeviceNormalize | None) -> torch.Tensor:
    """A batch of images as the network takes it: uint8 ones normalised (or, when the
    pipeline has no normalize step, converted to float32 with their 0–255 values, as the
    loader did before); float ones unchanged."""
    import torch

    if images.dtype != torch.uint8:
        return images
    return normalize(images) if normalize is not None else images.to(torch.float32)


def movable_normalize(transforms: Mapping[str, Any] | None) -> tuple[str, Any] | None:
    """The pipeline's trailing ``albumentations.Normalize`` (name, transform) when it can be
    applied on the device with the same result, else ``None``."""
    import albumentations as A

    steps = [(name, t) for name, t in (transforms or {}).items() if t is not None]
    if not steps:
        return None
    name, last = steps[-1]
    if not isinstance(last, A.Normalize):
        return None
    if getattr(last, "normalization", "standard") != "standard" or float(last.p) != 1.0:
        return None
    return name, last


class FinishOnCpu:
    """The loader's pipeline without its normalize step, which it applies only to an image
    that is not uint8 at the end (such a batch cannot be normalised on the device)."""

    def __init__(self, pipeline: Callable[..., dict[str, Any]], normalize: Any) -> None:
        self.pipeline = pipeline
        self.normalize = normalize

    def __getattr__(self, name: str) -> Any:
        if name in ("pipeline", "normalize"):
            raise AttributeError(name)
        return getattr(self.pipeline, name)

    def __repr__(self) -> str:
        return f"FinishOnCpu({self.pipeline!r}, then on the device: {self.normalize!r})"

    def __call__(self, **data: Any) -> dict[str, Any]:
        out = self.pipeline(**data)
        if out["image"].dtype != np.uint8:
            out["image"] = self.normalize(image=out["image"])["image"]
        return out


def split_pipelines(
    train: Mapping[str, Any] | None, evaluation: Mapping[str, Any] | None, on_device: bool
) -> tuple[dict[str, Any], dict[str, Any], Any, DeviceNormalize | None]:
    """The train and eval pipelines for the loader, the normalize step they leave to the
    device (or ``None``), and its device form.

    The step moves when ``on_device`` and both pipelines end in movable Normalize steps with
    equal arithmetic; otherwise both pipelines are returned whole."""
    train, evaluation = dict(train or {}), dict(evaluation or {})
    if not on_device:
        return train, evaluation, None, None
    found = movable_normalize(train), movable_normalize(evaluation)
    if found[0] is None or found[1] is None:
        return train, evaluation, None, None
    (train_name, step), (eval_name, eval_step) = found
    device = DeviceNormalize.of(step)
    if DeviceNormalize.of(eval_step) != device:
        return train, evaluation, None, None
    train.pop(train_name)
    evaluation.pop(eval_name)
    return train, evaluation, step, device


def loader_pipelines(
    train: Mapping[str, Any] | None, evaluation: Mapping[str, Any] | None, on_device: bool
) -> tuple[Callable[..., dict[str, Any]], Callable[..., dict[str, Any]], DeviceNormalize | None]:
    """The composed train pipeline (random) and eval pipeline the loaders run, and the
    normalisation left to the device (``None`` when the loaders normalise)."""
    from shiftlab.data.transforms import compose

    train, evaluation, step, device = split_pipelines(train, evaluation, on_device)
    train_pipeline, eval_pipeline = compose(train, random=True), compose(evaluation)
    if step is None:
        return train_pipeline, eval_pipeline, None
    return FinishOnCpu(train_pipeline, step), FinishOnCpu(eval_pipeline, step), device
