"""The TSConv layer (time-shift convolution), as defined in ``shared/design/tsconv.md``.

A TSConv layer shifts a share of its input channels one step forward and one step backward
along time, then applies a (3, 1) convolution over frequency. Each output still sees three
time steps, at a third of the parameters and multiply-adds of the 3×3 convolution it replaces.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from shiftlab.models.fused_tsconv import fused_applies, fused_tsconv
from shiftlab.models.shift_kernel import native_zero_shift

BorderMode = Literal["zeros", "circular", "replicate"]
BORDER_MODES: tuple[str, ...] = ("zeros", "circular", "replicate")


def shift_groups(channels: int, shift_share: float = 0.5) -> tuple[int, int]:
    """Return ``(static, per_direction)`` channel counts for the canonical layout.

    The layout is static ``[0, S)``, forward ``[S, S+g)``, backward ``[S+g, C)``. A channel
    count that does not split evenly is an error rather than a silent rounding, because a
    rounded split would change the layer's receptive field without the user knowing.
    """
    if not 0.0 <= shift_share <= 1.0:
        raise ValueError(f"TSConv shift_share must be in [0, 1], got {shift_share}.")
    shifted = channels * shift_share
    per_direction = shifted / 2
    if per_direction != int(per_direction):
        step = _channel_step(shift_share)
        hint = f"a multiple of {step}" if step else "a count that splits evenly"
        raise ValueError(
            f"TSConv cannot split {channels} input channels with shift_share={shift_share}: "
            f"that gives {per_direction:g} channels per shift direction, and the layer needs a "
            f"whole number. Use {hint} for in_channels (e.g. {step or 4} or {2 * (step or 4)}), "
            "or choose a shift_share that divides the channels evenly."
        )
    g = int(per_direction)
    return channels - 2 * g, g


def _channel_step(shift_share: float) -> int | None:
    """Smallest channel count C with C * shift_share / 2 a whole number (for error hints)."""
    for c in range(1, 257):
        value = c * shift_share / 2
        if value == int(value) and value > 0:
            return c
    return None


def time_shift(
    x: torch.Tensor, shift_share: float = 0.5, border: BorderMode = "zeros"
) -> torch.Tensor:
    """Shift a share of the channels of ``x`` (N×C×F×T) by one step along time (the last axis).

    Forward-shifted channels take the previous step (``xs[..., t] = x[..., t-1]``),
    backward-shifted channels the next one. ``border`` says what fills the vacated step:
    ``zeros`` (the definition), ``circular`` (wrap around), or ``replicate`` (repeat the edge).
    The result keeps the input's memory format (channels-last stays channels-last).
    """
    if x.dim() != 4:
        raise ValueError(f"time_shift expects an N×C×F×T tensor, got shape {tuple(x.shape)}.")
    if border not in BORDER_MODES:
        raise ValueError(f"Unknown TSConv border mode {border!r}; choose one of {BORDER_MODES}.")
    static, g = shift_groups(x.shape[1], shift_share)
    if g == 0:
        return x
    if border == "zeros":
        if torch.compiler.is_exporting() or torch.compiler.is_compiling():
            # Exported graphs (ONNX) run slices, pads and one concatenation far faster than
            # the in-place copies below, which export as scatters; torch.compile fuses them
            # into one loop and compiles them in a third of the time the copies and their
            # hand-written backward take (TSConv U-Net, measured here). Same values.
            fwd = F.pad(x[:, static : static + g, :, :-1], (1, 0))
            bwd = F.pad(x[:, static + g :, :, 1:], (0, 1))
            return torch.cat([x[:, :static], fwd, bwd], dim=1)
        if torch.is_grad_enabled() and x.requires_grad:
            return _ZeroShift.apply(x, static, g)
        return zero_shift(x, static, g, forward=True)
    fwd, bwd = x[:, static : static + g], x[:, static + g :]
    if border == "circular":
        fwd, bwd = fwd.roll(1, dims=-1), bwd.roll(-1, dims=-1)
    elif x.shape[-1] > 1:  # replicate; a single step has nothing to shift in but itself
        fwd = F.pad(fwd[..., :-1], (1, 0, 0, 0), mode="replicate")
        bwd = F.pad(bwd[..., 1:], (0, 1, 0, 0), mode="replicate")
    return torch.cat([x[:, :static], fwd, bwd], dim=1)


def zero_shift(x: torch.Tensor, static: int, g: int, forward: bool) -> torch.Tensor:
    """One copy of ``x`` with the shifted groups moved by one step and zeros at the border.

    ``forward=False`` moves each group the other way: that is the adjoint, used for gradients.
    On the CPU this is one pass of native code where a C compiler exists
    (:mod:`shiftlab.models.shift_kernel`); the PyTorch copies below give the same values.
    """
    native = native_zero_shift(x, static, g, forward)
    if native is not None:
        return native
    out = x.clone()
    later, earlier = slice(static, static + g), slice(static + g, None)
    if not forward:
        later, earlier = earlier, later
    # Channels in `later` take the previous step; channels in `earlier` take the next one.
    out[:, later, :, 1:] = x[:, later, :, :-1]
    out[:, later, :, :1] = 0
    out[:, earlier, :, :-1] = x[:, earlier, :, 1:]
    out[:, earlier, :, -1:] = 0
    return out


class _ZeroShift(torch.autograd.Function):
    """The zero-border shift with a hand-written backward (the opposite shift of the gradient).

    Autograd through slicing and concatenation costs several extra copies per layer; this
    costs one copy forward and one backward.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, static: int, g: int) -> torch.Tensor:
        ctx.static, ctx.g = static, g
        return zero_shift(x, static, g, forward=True)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return zero_shift(grad, ctx.static, ctx.g, forward=False), None, None


class TSConv2d(nn.Module):
    """Time-shift convolution: :func:`time_shift`, then a (3, 1) convolution over frequency.

    Args:
        in_channels: input channels; with the default ``shift_share=0.5`` a multiple of 4.
        out_channels: output channels (any count).
        shift_share: share of input channels that are shifted, half forward and half backward.
        border: what fills the vacated time step: ``zeros`` (default), ``circular`` or
            ``replicate``.
        bias: whether the convolution has a bias.
        shifted_input: the input arrives already shifted by the operation before this layer
            (:mod:`shiftlab.models.shift_fusions`: a ReLU, the pooling or the upsampling and
            concatenation that writes its output shifted, with the same ``shift_share`` and
            ``border``), so ``forward`` applies the convolution alone.

    Input and output are ``N × C × F × T``; F and T are kept.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        shift_share: float = 0.5,
        border: BorderMode = "zeros",
        bias: bool = True,
        shifted_input: bool = False,
    ) -> None:
        super().__init__()
        if border not in BORDER_MODES:
            raise ValueError(
                f"Unknown TSConv border mode {border!r}; choose one of {BORDER_MODES}."
            )
        self.static_channels, self.shift_channels = shift_groups(in_channels, shift_share)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.shift_share = shift_share
        self.border = border
        self.shifted_input = shifted_input
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size=(3, 1), padding=(1, 0), bias=bias
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shifted_input:
            return self.conv(x)
        return self.shift_and_convolve(x)

    def shift_and_convolve(self, x: torch.Tensor) -> torch.Tensor:
        """The layer on an input not shifted yet, whatever ``shifted_input`` says: the U-Net
        calls it where :meth:`fuses_shift` says the fused operator runs the layer."""
        if self.fuses_shift(x):
            # the shift read inside the convolution's loops: no shifted copy either way
            return fused_tsconv(x, self.conv, self.static_channels, self.shift_channels)
        return self.conv(time_shift(x, self.shift_share, self.border))

    def fuses_shift(self, x: torch.Tensor) -> bool:
        """Whether the fused shift + convolution operator (:mod:`shiftlab.models.fused_tsconv`)
        runs this layer on ``x`` (or on a tensor of ``x``'s dtype, device and memory layout):
        then the operation before it should not shift its output, since the operator's own
        reads cost less than a shifted pass (bench/tsconv_layer.py)."""
        return self.border == "zeros" and self.shift_channels > 0 and fused_applies(x, self.conv)

    def extra_repr(self) -> str:
        shifted = ", input shifted by the layer before" if self.shifted_input else ""
        return (
            f"{self.in_channels}, {self.out_channels}, static={self.static_channels}, "
            f"shifted={self.shift_channels}+{self.shift_channels}, border={self.border}"
            f"{shifted}"
        )

    def equivalent_conv3x3_weight(self) -> torch.Tensor:
        """The masked 3×3 kernel that makes a zero-padded 3×3 convolution equal this layer.

        Static channels use only the centre time column, forward-shifted channels the left one
        (they look one step back), backward-shifted channels the right one. Useful for testing
        and for explaining the layer.
        """
        w = self.conv.weight  # Cout × Cin × 3 × 1
        full = w.new_zeros(self.out_channels, self.in_channels, 3, 3)
        s, g = self.static_channels, self.shift_channels
        full[:, :s, :, 1] = w[:, :s, :, 0]
        full[:, s : s + g, :, 0] = w[:, s : s + g, :, 0]
        full[:, s + g :, :, 2] = w[:, s + g :, :, 0]
        return full
