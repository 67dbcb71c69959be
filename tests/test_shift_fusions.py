"""The TSConv shift fused into the ReLU, the pooling and the upsampling before each layer.

Each fused op must give exactly ``time_shift(op(...))``, forward and backward, on the native
path and on the PyTorch one; the U-Net built with them must compute exactly the network of the
spec (each TSConv layer shifting its own input), and load the same checkpoints.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from shiftlab.models import TSConv2d, TSConvUNet
from shiftlab.models.shift_fusions import (
    ReLUTimeShift,
    max_pool_time_shift,
    relu_time_shift,
    upsample_cat_time_shift,
)
from shiftlab.models.shift_kernel import pool_shift_applies, upsample_cat_shift_applies
from shiftlab.models.tsconv import time_shift

FORMATS = [torch.contiguous_format, torch.channels_last]


@pytest.fixture(params=["native", "torch"], autouse=True)
def shift_path(request, monkeypatch):
    monkeypatch.setenv("SHIFTLAB_NATIVE_SHIFT", "1" if request.param == "native" else "0")
    return request.param


def same(a: torch.Tensor, b: torch.Tensor) -> None:
    """Bit for bit, NaN where NaN."""
    assert a.shape == b.shape and a.dtype == b.dtype
    assert torch.equal(a.isnan(), b.isnan())
    assert torch.equal(a.nan_to_num(), b.nan_to_num()), (a - b).abs().max()


def check_against(fused, definition, *inputs: torch.Tensor) -> None:
    """Forward, backward (random upstream gradient) and no-grad results all equal."""
    ours = [x.detach().clone().requires_grad_(True) for x in inputs]
    theirs = [x.detach().clone().requires_grad_(True) for x in inputs]
    out, expected = fused(*ours), definition(*theirs)
    same(out, expected)
    upstream = torch.randn(expected.shape, dtype=torch.float64).to(expected.dtype)
    out.backward(upstream)
    expected.backward(upstream)
    for mine, reference in zip(ours, theirs, strict=True):
        same(mine.grad, reference.grad)
    with torch.no_grad():
        same(fused(*inputs), expected.detach())


def sample(shape, dtype, memory_format, seed=0) -> torch.Tensor:
    torch.manual_seed(seed)
    x = torch.randn(shape, dtype=torch.float64).to(dtype).contiguous(memory_format=memory_format)
    x[0, 0, 0, 0] = float("nan")  # ReLU and pooling keep NaN; the fused loops must too
    return x


SHAPES = [(2, 8, 6, 7), (1, 4, 2, 1), (1, 4, 2, 2), (1, 12, 4, 3), (8, 16, 32, 200)]


@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_shift_is_relu_then_shift(memory_format, dtype, shape):
    x = sample(shape, dtype, memory_format)
    check_against(relu_time_shift, lambda x: time_shift(torch.relu(x)), x)


@pytest.mark.parametrize("border", ["circular", "replicate"])
def test_relu_shift_with_other_borders_is_relu_then_shift(border):
    x = sample((2, 8, 3, 5), torch.float32, torch.channels_last)
    check_against(
        lambda x: relu_time_shift(x, border=border),
        lambda x: time_shift(torch.relu(x), border=border),
        x,
    )


def test_relu_shift_on_the_spec_vector():
    x = torch.arange(12, dtype=torch.float32).reshape(1, 4, 1, 3)  # non-negative: ReLU keeps it
    out = relu_time_shift(x.contiguous(memory_format=torch.channels_last))
    assert out[0, :, 0].tolist() == [[0, 1, 2], [3, 4, 5], [0, 6, 7], [10, 11, 0]]


@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("shape", [*SHAPES, (2, 4, 5, 3)])  # an odd F drops its last row
def test_pool_shift_is_pool_then_shift(memory_format, dtype, shape):
    x = sample(shape, dtype, memory_format)
    x[0, 1, 0, 0] = x[0, 1, 1, 0]  # a tie: the first row wins, as in torch's pooling
    x[0, 2, 1, 0] = float("nan")  # NaN in the second row wins over a number
    check_against(max_pool_time_shift, lambda x: time_shift(F.max_pool2d(x, (2, 1))), x)


@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("low_channels", [4, 8])
@pytest.mark.parametrize("shape", [s for s in SHAPES if s[2] % 2 == 0])
def test_upsample_cat_shift_is_upsample_cat_then_shift(memory_format, dtype, low_channels, shape):
    skip = sample(shape, dtype, memory_format)
    low = sample((shape[0], low_channels, shape[2] // 2, shape[3]), dtype, memory_format, 1)

    def definition(low, skip):
        upsampled = F.interpolate(low, scale_factor=(2, 1), mode="nearest")
        return time_shift(torch.cat([upsampled, skip], dim=1))

    check_against(upsample_cat_time_shift, definition, low, skip)


def test_the_native_fusions_run_on_channels_last_float_tensors(shift_path):
    x = torch.randn(2, 8, 6, 7).contiguous(memory_format=torch.channels_last)
    low = torch.randn(2, 4, 3, 7).contiguous(memory_format=torch.channels_last)
    native = shift_path == "native"
    assert pool_shift_applies(x) is native and upsample_cat_shift_applies(low, x) is native
    assert not pool_shift_applies(x.contiguous()) and not pool_shift_applies(x.double()[:, :, :5])


def spec_network(net: TSConvUNet) -> nn.Module:
    """The same network written as the spec says: every TSConv layer shifts its own input."""

    class Spec(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            def block(b: nn.Sequential, h: torch.Tensor) -> torch.Tensor:
                for layer in b:
                    if isinstance(layer, TSConv2d):
                        h = layer.conv(time_shift(h, layer.shift_share, layer.border))
                    else:
                        h = torch.relu(h)
                return h

            skips = [net.stem(x)]
            for b in net.down_blocks:
                skips.append(block(b, F.max_pool2d(skips[-1], (2, 1))))
            h = skips.pop()
            for b in net.up_blocks:
                upsampled = F.interpolate(h, scale_factor=(2, 1), mode="nearest")
                h = block(b, torch.cat([upsampled, skips.pop()], dim=1))
            return net.head(h)

    return Spec()


@pytest.mark.parametrize("memory_format", FORMATS)
def test_the_unet_with_fused_shifts_is_the_spec_network(memory_format, monkeypatch):
    # bit for bit: the fused shift + convolution operator, which sums in its own order, is off
    # here (tests/test_fused_tsconv.py checks the U-Net with it on)
    monkeypatch.setenv("SHIFTLAB_FUSED_TSCONV", "0")
    torch.manual_seed(3)
    fused = TSConvUNet(channels=(4, 4, 8, 16), freq_bins=32).to(memory_format=memory_format)
    reference = TSConvUNet(channels=(4, 4, 8, 16), freq_bins=32).to(memory_format=memory_format)
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(2, 1, 32, 9).contiguous(memory_format=memory_format)
    out, expected = fused(x), spec_network(reference)(x)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    out.square().mean().backward()
    expected.square().mean().backward()
    for (name, mine), theirs in zip(fused.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=0, atol=0, msg=name)


def test_fusing_keeps_the_checkpoint_layout():
    net = TSConvUNet()
    blocks = [*net.down_blocks, *net.up_blocks]
    assert all(isinstance(b[1], ReLUTimeShift) and b[0].shifted_input for b in blocks)
    assert all(b[2].shifted_input for b in blocks)
    # parameters sit at the indices they always had: .0.conv and .2.conv in every block
    assert {k.split(".", 2)[2] for k in net.state_dict() if "_blocks." in k} == {
        "0.conv.weight",
        "0.conv.bias",
        "2.conv.weight",
        "2.conv.bias",
    }
    assert "shifted by the layer before" in repr(net.down_blocks[0])


@pytest.fixture
def two_threads():
    """Two torch threads (the suite's workers run one each), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_the_loops_split_across_threads_give_the_same_values(two_threads):
    # 4 MiB tensors: large enough for the native loops to split their lines across threads
    x = sample((8, 16, 64, 128), torch.float32, torch.channels_last)
    low = sample((8, 8, 32, 128), torch.float32, torch.channels_last, 1)

    def upsample_cat(low, skip):
        upsampled = F.interpolate(low, scale_factor=(2, 1), mode="nearest")
        return time_shift(torch.cat([upsampled, skip], dim=1))

    check_against(relu_time_shift, lambda x: time_shift(torch.relu(x)), x)
    check_against(max_pool_time_shift, lambda x: time_shift(F.max_pool2d(x, (2, 1))), x)
    check_against(upsample_cat_time_shift, upsample_cat, low, x)
    same(time_shift(x), torch.cat([x[:, :8], F.pad(x[:, 8:12, :, :-1], (1, 0)),
                                   F.pad(x[:, 12:, :, 1:], (0, 1))], dim=1))  # fmt: skip
