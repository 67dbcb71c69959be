"""The TSConv time shift done inside the operation before the layer, at no extra pass.

A TSConv layer shifts its input before its (3, 1) convolution: one more pass over the
activation forward and one backward (its adjoint), which on small-channel networks costs a
sizeable share of the convolution's own time. In the U-Net every TSConv layer follows an
operation that reads its input and writes a new tensor anyway: a ReLU, the frequency pooling,
or the upsampling and concatenation with the skip. Each function here does that operation and
the shift in one pass (native code, :mod:`shiftlab.models.shift_kernel`), so the shift is free,
and the layer after it is built with ``TSConv2d(..., shifted_input=True)``.

Every function gives exactly ``time_shift(op(...))`` and falls back to those two steps where
the native loop cannot run (no compiler, another device or dtype, ``SHIFTLAB_NATIVE_SHIFT=0``,
a border mode other than ``zeros``, ``torch.compile`` or ONNX export, which fuse or export the
plain ops). The fused ops save for their backward only what the network keeps anyway.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from shiftlab.models.shift_kernel import (
    native_pool_shift,
    native_pool_shift_backward,
    native_relu_shift,
    native_relu_shift_backward,
    native_upsample_cat_shift,
    native_upsample_cat_shift_backward,
    pool_shift_applies,
    upsample_cat_shift_applies,
)
from shiftlab.models.tsconv import BORDER_MODES, BorderMode, shift_groups, time_shift, zero_shift


def _groups_to_fuse(channels: int, shift_share: float, border: str) -> tuple[int, int] | None:
    """The shift's ``(static, per_direction)`` where the fused path applies, else None."""
    static, g = shift_groups(channels, shift_share)
    if border != "zeros" or g == 0:
        return None
    if torch.compiler.is_exporting() or torch.compiler.is_compiling():
        return None
    return static, g


def relu_time_shift(
    x: torch.Tensor, shift_share: float = 0.5, border: BorderMode = "zeros"
) -> torch.Tensor:
    """``time_shift(relu(x))`` (which equals ``relu(time_shift(x))``) in one pass where it can.

    The second convolution of every U-Net block follows a ReLU. Backward needs only the output
    (which the convolution after it keeps anyway), not ``x``.
    """
    _check_four_dims(x, "relu_time_shift")
    groups = _groups_to_fuse(x.shape[1], shift_share, border)
    if groups is not None:
        if torch.is_grad_enabled() and x.requires_grad:
            return _ReLUZeroShift.apply(x, *groups)
        native = native_relu_shift(x, *groups)
        if native is not None:
            return native
    return time_shift(torch.relu(x), shift_share, border)


def max_pool_time_shift(
    x: torch.Tensor, shift_share: float = 0.5, border: BorderMode = "zeros"
) -> torch.Tensor:
    """``time_shift(max_pool2d(x, (2, 1)))``: the U-Net's frequency pooling, shifted.

    Backward reads ``x`` to find each pair's larger row again (no index tensor is kept; the
    U-Net keeps ``x`` as its skip connection anyway).
    """
    _check_four_dims(x, "max_pool_time_shift")
    groups = _groups_to_fuse(x.shape[1], shift_share, border)
    if groups is not None and pool_shift_applies(x):
        if torch.is_grad_enabled() and x.requires_grad:
            return _PoolZeroShift.apply(x, *groups)
        return native_pool_shift(x, *groups)
    return time_shift(F.max_pool2d(x, kernel_size=(2, 1)), shift_share, border)


def upsample_cat_time_shift(
    low: torch.Tensor, skip: torch.Tensor, shift_share: float = 0.5, border: BorderMode = "zeros"
) -> torch.Tensor:
    """``time_shift(cat([upsample(low, (2, 1)), skip]))``: the U-Net's way up, shifted.

    ``low`` has half the frequency rows of ``skip``; nearest upsampling doubles them.
    """
    _check_four_dims(low, "upsample_cat_time_shift")
    _check_four_dims(skip, "upsample_cat_time_shift")
    groups = _groups_to_fuse(low.shape[1] + skip.shape[1], shift_share, border)
    if groups is not None and upsample_cat_shift_applies(low, skip):
        if torch.is_grad_enabled() and (low.requires_grad or skip.requires_grad):
            return _UpsampleCatZeroShift.apply(low, skip, *groups)
        return native_upsample_cat_shift(low, skip, *groups)
    upsampled = F.interpolate(low, scale_factor=(2, 1), mode="nearest")
    return time_shift(torch.cat([upsampled, skip], dim=1), shift_share, border)


def _check_four_dims(x: torch.Tensor, name: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"{name} expects N×C×F×T tensors, got shape {tuple(x.shape)}.")


class _ReLUZeroShift(torch.autograd.Function):
    """ReLU then the zero-border shift, with the backward read from the output alone.

    The input's gradient is the adjoint shift of the output's gradient where the output is
    positive (or NaN, as ReLU's backward has it): an input the shift drops at the border has
    no gradient, so the output holds everything the backward needs.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, static: int, g: int) -> torch.Tensor:
        ctx.static, ctx.g = static, g
        out = native_relu_shift(x, static, g)
        if out is None:
            out = zero_shift(torch.relu(x), static, g, forward=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (out,) = ctx.saved_tensors
        native = native_relu_shift_backward(grad, out, ctx.static, ctx.g)
        if native is not None:
            return native, None, None
        passed = torch.ops.aten.threshold_backward(grad, out, 0)  # ReLU's own backward
        return zero_shift(passed, ctx.static, ctx.g, forward=False), None, None


class _PoolZeroShift(torch.autograd.Function):
    """Max pooling (2, 1) then the zero-border shift (where :func:`pool_shift_applies`)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, static: int, g: int) -> torch.Tensor:
        out = native_pool_shift(x, static, g)
        ctx.static, ctx.g = static, g
        ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return _native(native_pool_shift_backward(grad, x, ctx.static, ctx.g)), None, None


class _UpsampleCatZeroShift(torch.autograd.Function):
    """Upsampling, concatenation and the zero-border shift (where it applies natively)."""

    @staticmethod
    def forward(ctx, low: torch.Tensor, skip: torch.Tensor, static: int, g: int):
        out = native_upsample_cat_shift(low, skip, static, g)
        ctx.static, ctx.g, ctx.low_channels = static, g, low.shape[1]
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        low, skip = _native(
            native_upsample_cat_shift_backward(grad, ctx.low_channels, ctx.static, ctx.g)
        )
        return low, skip, None, None


def _native(result):
    """A native backward's result. Its forward ran natively (the callers check that first), so
    the backward can too: the gradient has the output's dtype and device, and the native
    functions bring it to channels-last themselves."""
    if result is None:
        raise RuntimeError("a fused TSConv shift ran natively forward but not backward")
    return result


class ReLUTimeShift(nn.Module):
    """A ReLU that also does the time shift of the TSConv layer after it (:func:`relu_time_shift`).

    Used in place of ``nn.ReLU`` before a :class:`~shiftlab.models.tsconv.TSConv2d` built with
    ``shifted_input=True``; no parameters, so checkpoints of the unfused network load.
    """

    def __init__(self, shift_share: float = 0.5, border: BorderMode = "zeros") -> None:
        super().__init__()
        if border not in BORDER_MODES:
            raise ValueError(
                f"Unknown TSConv border mode {border!r}; choose one of {BORDER_MODES}."
            )
        self.shift_share = shift_share
        self.border = border

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return relu_time_shift(x, self.shift_share, self.border)

    def extra_repr(self) -> str:
        return f"shift_share={self.shift_share}, border={self.border}"
