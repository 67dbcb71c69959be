"""The spectrogram U-Net of ``shared/design/tsconv.md``, with TSConv or plain 3×3 blocks.

Pooling and upsampling act on frequency only, so any number of time steps T passes through
unchanged; the frequency axis must be divisible by ``2 ** depth``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from shiftlab.models.shift_fusions import (
    ReLUTimeShift,
    max_pool_time_shift,
    upsample_cat_time_shift,
)
from shiftlab.models.tsconv import BorderMode, TSConv2d

BlockConv = Literal["tsconv", "conv"]
SPEC_CHANNELS: tuple[int, ...] = (4, 4, 4, 8, 8, 16)


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)


class _DoubleConv(nn.Sequential):
    """Two convolutions, each followed by ReLU (the body of every U-Net block).

    With TSConv layers, neither layer shifts its own input: the first one's input comes
    shifted from the pooling or the upsampling before the block (see :class:`TSConvUNet`),
    and the ReLU between the two shifts for the second (:class:`ReLUTimeShift`). Where the
    fused shift + convolution operator runs a layer (:meth:`TSConv2d.fuses_shift`: float32
    channels-last on the CPU, channels multiples of 16), the operation before it writes its
    output unshifted instead and the layer reads the shift inside its own loops, which costs
    less than the shifted pass. The module list keeps its indices and parameters either way,
    so checkpoints load across versions.
    """

    def __init__(self, in_channels: int, out_channels: int, make_conv) -> None:
        # Built in this order, so that seeded weights stay what they were.
        first = make_conv(in_channels, out_channels)
        second = make_conv(out_channels, out_channels)
        activation: nn.Module = nn.ReLU(inplace=True)
        if isinstance(second, TSConv2d):
            activation = ReLUTimeShift(second.shift_share, second.border)
            first.shifted_input = second.shifted_input = True
        super().__init__(first, activation, second, nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor, shifted: bool = True) -> torch.Tensor:
        """The block on ``x``; ``shifted=False``: a TSConv block's input is not shifted yet
        (its first layer then shifts it, in the fused operator where that runs)."""
        first, activation, second, last = self
        h = first(x) if shifted else first.shift_and_convolve(x)
        return last(activation_then_layer(activation, second, h))


def activation_then_layer(activation: nn.Module, layer: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """``layer(activation(h))`` as a block runs its second half: a :class:`ReLUTimeShift`
    before a TSConv layer the fused operator runs becomes a plain ReLU, the shift read inside
    the layer's loops."""
    if isinstance(activation, ReLUTimeShift) and layer.fuses_shift(h):
        return layer.shift_and_convolve(torch.relu(h))
    return layer(activation(h))


class TSConvUNet(nn.Module):
    """U-Net over ``N × in_channels × F × T`` spectrograms, pooling over frequency only.

    Args:
        in_channels: channels of the input spectrogram (1 for a magnitude spectrogram).
        out_channels: channels of the output.
        channels: channels of the stem and of each down block; the up blocks mirror them.
            The length minus one is the depth. Default: the spec's ``(4, 4, 4, 8, 8, 16)``.
        freq_bins: frequency bins F the model is built for; must be divisible by
            ``2 ** depth``. Inputs with another F are refused with a clear error. ``None``
            for inputs of any height (images): the task pads them to ``2 ** depth``.
        block_conv: ``tsconv`` (every convolution inside the down and up blocks is a TSConv
            layer) or ``conv`` (plain 3×3 convolutions: the baseline U-Net). The stem and the
            head are plain convolutions either way.
        shift_share: share of channels each TSConv layer shifts in time (half each way).
        border: TSConv border mode: ``zeros`` (the definition), ``circular`` or ``replicate``.
        residual: add the input to the head's output, so the network learns a correction of
            its input. Off by default, as in the spec; useful when input and output share a
            scale.
    """

    output = "dense"  # a map the size of the input: regression and segmentation tasks

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        channels: Sequence[int] = SPEC_CHANNELS,
        freq_bins: int | None = 256,
        block_conv: BlockConv = "tsconv",
        shift_share: float = 0.5,
        border: BorderMode = "zeros",
        residual: bool = False,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) < 2:
            raise ValueError(
                f"TSConvUNet needs at least two entries in channels (stem and one down block), "
                f"got {list(channels)}."
            )
        depth = len(channels) - 1
        if freq_bins is not None and freq_bins % (2**depth):
            raise ValueError(
                f"TSConvUNet with depth {depth} halves the frequency axis {depth} times, so "
                f"freq_bins must be a multiple of {2**depth}; got {freq_bins}. Use "
                f"{_nearest_multiple(freq_bins, 2**depth)} bins, or fewer entries in channels."
            )
        if block_conv not in ("tsconv", "conv"):
            raise ValueError(f"block_conv must be 'tsconv' or 'conv', got {block_conv!r}.")
        if residual and in_channels != out_channels:
            raise ValueError(
                "residual=True adds the input to the output, so in_channels and out_channels "
                f"must match; got {in_channels} and {out_channels}."
            )

        def make_conv(cin: int, cout: int) -> nn.Module:
            if block_conv == "conv":
                return _conv3x3(cin, cout)
            return TSConv2d(cin, cout, shift_share=shift_share, border=border)

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.channels = channels
        self.freq_bins = freq_bins
        self.block_conv = block_conv
        self.shift_share = shift_share
        self.border = border
        self.residual = residual
        # The contract a task relies on: F must be a multiple of 2**depth, T may be anything.
        self.size_multiple = (2**depth, 1)

        self.stem = _DoubleConv(in_channels, channels[0], _conv3x3)
        self.pool = nn.MaxPool2d(kernel_size=(2, 1))
        self.up = nn.Upsample(scale_factor=(2, 1), mode="nearest")
        self.down_blocks = nn.ModuleList(
            _DoubleConv(channels[i - 1], channels[i], make_conv) for i in range(1, depth + 1)
        )
        self.up_blocks = nn.ModuleList()
        below = channels[-1]
        for skip in reversed(channels[:-1]):
            self.up_blocks.append(_DoubleConv(below + skip, skip, make_conv))
            below = skip
        self.head = _conv3x3(channels[0], out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        skips = [self.stem(x)]
        for block in self.down_blocks:
            above = skips[-1]
            if self._first_fuses(block, above):
                skips.append(block(self.pool(above), shifted=False))
            else:
                skips.append(block(self._down(above)))
        h = skips.pop()
        for block in self.up_blocks:
            skip = skips.pop()
            if self._first_fuses(block, skip):
                h = block(torch.cat([self.up(h), skip], dim=1), shifted=False)
            else:
                h = block(self._up_and_join(h, skip))
        out = self.head(h)
        return out + x if self.residual else out

    def _first_fuses(self, block: _DoubleConv, like: torch.Tensor) -> bool:
        """Whether the fused operator runs ``block``'s first layer on an input like ``like``
        (the pooling or the upsampling keeps its dtype, device and memory layout)."""
        return self.block_conv == "tsconv" and block[0].fuses_shift(like)

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        """Pool over frequency; for TSConv blocks also shift, in the same pass."""
        if self.block_conv == "tsconv":
            return max_pool_time_shift(x, self.shift_share, self.border)
        return self.pool(x)

    def _up_and_join(self, low: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Upsample over frequency and concatenate the skip; for TSConv blocks also shift."""
        if self.block_conv == "tsconv":
            return upsample_cat_time_shift(low, skip, self.shift_share, self.border)
        return torch.cat([self.up(low), skip], dim=1)

    def _check_input(self, x: torch.Tensor) -> None:
        height_ok = self.freq_bins is None or x.shape[2] == self.freq_bins
        if x.dim() != 4 or x.shape[1] != self.in_channels or not height_ok:
            raise ValueError(
                f"TSConvUNet expects N × {self.in_channels} × {self.freq_bins} × T input "
                f"(T any length), got shape {tuple(x.shape)}. Set model.freq_bins and "
                "model.in_channels to match the data (they follow data.freq_bins by default)."
            )


def _nearest_multiple(value: int, multiple: int) -> int:
    return max(multiple, round(value / multiple) * multiple)
