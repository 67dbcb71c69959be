"""The TSConv layer against its specification (shared/design/tsconv.md)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from shiftlab.models import TSConv2d, time_shift
from shiftlab.models.tsconv import shift_groups


def spec_vector_1() -> torch.Tensor:
    # x[0, c, 0, :] = [3c, 3c+1, 3c+2]
    return torch.arange(12, dtype=torch.float32).reshape(1, 4, 1, 3)


def test_spec_vector_zero_borders():
    out = time_shift(spec_vector_1())
    assert out[0, :, 0].tolist() == [[0, 1, 2], [3, 4, 5], [0, 6, 7], [10, 11, 0]]


def test_spec_vector_circular_borders():
    out = time_shift(spec_vector_1(), border="circular")
    assert out[0, :, 0].tolist() == [[0, 1, 2], [3, 4, 5], [8, 6, 7], [10, 11, 9]]


def test_spec_vector_two_frequencies():
    c, f, t = torch.meshgrid(torch.arange(4), torch.arange(2), torch.arange(3), indexing="ij")
    x = (100 * c + 10 * f + t).float().unsqueeze(0)
    out = time_shift(x)
    assert torch.equal(out[0, :2], x[0, :2])
    assert out[0, 2].tolist() == [[0, 200, 201], [0, 210, 211]]
    assert out[0, 3].tolist() == [[301, 302, 0], [311, 312, 0]]


def test_replicate_border_repeats_the_edge():
    out = time_shift(spec_vector_1(), border="replicate")
    assert out[0, :, 0].tolist() == [[0, 1, 2], [3, 4, 5], [6, 6, 7], [10, 11, 11]]


def test_shift_is_along_time_never_frequency():
    x = torch.randn(2, 8, 5, 6)
    out = time_shift(x)
    # Each shifted channel holds the same frequency rows, moved along the last axis.
    assert torch.equal(out[:, 4:6, :, 1:], x[:, 4:6, :, :-1])
    assert torch.equal(out[:, 6:, :, :-1], x[:, 6:, :, 1:])


def test_single_time_step_zeroes_the_shifted_channels():
    out = time_shift(torch.ones(1, 8, 3, 1))
    assert torch.equal(out[0, :4], torch.ones(4, 3, 1))
    assert torch.equal(out[0, 4:], torch.zeros(4, 3, 1))


@pytest.mark.parametrize("channels", [1, 2, 3, 5, 6, 10])
def test_channel_counts_that_cannot_split_are_refused(channels):
    with pytest.raises(ValueError, match=r"TSConv cannot split .* multiple of 4"):
        TSConv2d(channels, 4)


def test_shift_share_sets_the_group_sizes():
    assert shift_groups(8) == (4, 2)
    assert shift_groups(8, shift_share=0.25) == (6, 1)
    assert shift_groups(8, shift_share=1.0) == (0, 4)
    assert shift_groups(8, shift_share=0.0) == (8, 0)
    with pytest.raises(ValueError, match="shift_share"):
        shift_groups(8, shift_share=1.5)


@pytest.mark.parametrize("shift_share", [0.5, 0.25, 1.0])
@pytest.mark.parametrize("steps", [1, 2, 9])
def test_equals_masked_3x3_convolution(shift_share, steps):
    torch.manual_seed(0)
    layer = TSConv2d(8, 5, shift_share=shift_share).double()
    x = torch.randn(3, 8, 7, steps, dtype=torch.double)
    expected = F.conv2d(x, layer.equivalent_conv3x3_weight(), layer.conv.bias, padding=1)
    torch.testing.assert_close(layer(x), expected)
    # and with gradients flowing (the hand-written backward of the shift)
    x.requires_grad_(True)
    torch.testing.assert_close(layer(x), expected)


def test_gradient_of_the_shift_is_exact():
    x = torch.randn(2, 8, 3, 6, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: time_shift(t), (x,))
    assert torch.autograd.gradcheck(lambda t: time_shift(t, border="circular"), (x,))
    assert torch.autograd.gradcheck(lambda t: time_shift(t, border="replicate"), (x,))


def test_channels_last_gives_the_same_result():
    torch.manual_seed(0)
    layer = TSConv2d(8, 4)
    x = torch.randn(2, 8, 16, 11)
    expected = layer(x)
    layer_cl = layer.to(memory_format=torch.channels_last)
    out = layer_cl(x.contiguous(memory_format=torch.channels_last).requires_grad_(True))
    torch.testing.assert_close(out, expected)


def test_a_third_of_the_parameters_of_a_3x3_convolution():
    layer = TSConv2d(16, 16)
    conv = torch.nn.Conv2d(16, 16, 3)
    assert sum(p.numel() for p in layer.parameters()) == 3 * 16 * 16 + 16
    assert sum(p.numel() for p in conv.parameters()) == 9 * 16 * 16 + 16


def test_unknown_border_mode_is_refused():
    with pytest.raises(ValueError, match="border mode 'wrap'"):
        TSConv2d(4, 4, border="wrap")
