"""The U-Net of the spec: shapes for any T, the TSConv/plain switch, clear shape errors."""

from __future__ import annotations

import pytest
import torch

from shiftlab.models import ReLUTimeShift, TSConv2d, TSConvUNet


@pytest.mark.parametrize("block_conv", ["tsconv", "conv"])
@pytest.mark.parametrize("steps", [1, 7, 100])
def test_output_shape_keeps_frequency_and_time(block_conv, steps):
    net = TSConvUNet(block_conv=block_conv)
    out = net(torch.randn(2, 1, 256, steps))
    assert out.shape == (2, 1, 256, steps)


def test_spec_table_is_the_default():
    net = TSConvUNet()
    assert net.channels == (4, 4, 4, 8, 8, 16)
    assert net.freq_bins == 256
    assert net.size_multiple == (32, 1)
    # stem and head plain; every convolution of the blocks is TSConv
    assert isinstance(net.stem[0], torch.nn.Conv2d) and net.stem[0].kernel_size == (3, 3)
    assert isinstance(net.head, torch.nn.Conv2d) and net.head.out_channels == 1
    block_convs = [
        m
        for b in [*net.down_blocks, *net.up_blocks]
        for m in b
        if not isinstance(m, torch.nn.ReLU | ReLUTimeShift)
    ]
    assert len(block_convs) == 20 and all(isinstance(m, TSConv2d) for m in block_convs)


def test_intermediate_shapes_follow_the_spec_table():
    net = TSConvUNet()
    shapes = []
    net.down_blocks[-1].register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:3])))
    for block in net.up_blocks:
        block.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:3])))
    net(torch.randn(1, 1, 256, 5))
    # DB5, then UB1..UB5 as (channels, F)
    assert shapes == [(16, 8), (8, 16), (8, 32), (4, 64), (4, 128), (4, 256)]


def test_plain_variant_uses_3x3_convolutions_and_more_parameters():
    tsconv, plain = TSConvUNet(block_conv="tsconv"), TSConvUNet(block_conv="conv")
    assert not any(isinstance(m, TSConv2d) for m in plain.modules())
    n_ts = sum(p.numel() for p in tsconv.parameters())
    n_plain = sum(p.numel() for p in plain.parameters())
    assert n_ts < 0.5 * n_plain


def test_channels_depth_and_bins_are_arguments():
    net = TSConvUNet(channels=(8, 8, 16, 32), freq_bins=64)
    assert net(torch.randn(1, 1, 64, 9)).shape == (1, 1, 64, 9)
    assert net.size_multiple == (8, 1)


def test_bins_that_do_not_divide_by_the_depth_are_refused():
    with pytest.raises(ValueError, match="multiple of 32"):
        TSConvUNet(freq_bins=100)


def test_input_of_the_wrong_size_gets_a_clear_error():
    with pytest.raises(
        ValueError, match=r"expects N × 1 × 256 × T input .* got shape \(1, 1, 128, 5\)"
    ):
        TSConvUNet()(torch.randn(1, 1, 128, 5))


def test_residual_adds_the_input():
    net = TSConvUNet(residual=True)
    torch.nn.init.zeros_(net.head.weight)
    torch.nn.init.zeros_(net.head.bias)
    x = torch.randn(1, 1, 256, 4)
    torch.testing.assert_close(net(x), x)
