"""The TSConv layer against its specification (shared/design/tsconv.md)."""

from __future__ import annotations

import shutil

import pytest
import torch
import torch.nn.functional as F

from shiftlab.models import TSConv2d, time_shift
from shiftlab.models.shift_kernel import native_shift_status
from shiftlab.models.tsconv import shift_groups


@pytest.fixture(params=["native", "torch"], autouse=True)
def shift_path(request, monkeypatch):
    """Every test runs on both paths of the zero-border shift: native code and PyTorch."""
    monkeypatch.setenv("SHIFTLAB_NATIVE_SHIFT", "1" if request.param == "native" else "0")
    return request.param


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


def test_the_native_shift_is_built_where_a_compiler_exists(shift_path):
    if shift_path == "torch":
        assert native_shift_status().startswith("off")
    elif shutil.which("cc") or shutil.which("gcc"):
        assert native_shift_status() == "native"


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.uint8])
@pytest.mark.parametrize("shape", [(2, 8, 5, 6), (3, 16, 7, 1), (1, 4, 1, 2), (2, 64, 3, 300)])
def test_shift_equals_the_definition_on_random_inputs(memory_format, dtype, shape):
    torch.manual_seed(0)
    x = (torch.randn(*shape) * 50).to(dtype).contiguous(memory_format=memory_format)
    static, g = shift_groups(shape[1])
    expected = x.clone()  # the spec's formulas, written out
    expected[:, static : static + g] = F.pad(x[:, static : static + g, :, :-1], (1, 0))
    expected[:, static + g :] = F.pad(x[:, static + g :, :, 1:], (0, 1))
    out = time_shift(x)
    assert torch.equal(out, expected)
    assert out.is_contiguous(memory_format=memory_format)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_layer_forward_and_gradients_equal_the_masked_convolution(memory_format):
    torch.manual_seed(1)
    layer = TSConv2d(16, 8).to(memory_format=memory_format)
    x = torch.randn(3, 16, 12, 33).contiguous(memory_format=memory_format)
    x_ref = x.clone().contiguous().requires_grad_(True)
    x.requires_grad_(True)
    weight = layer.equivalent_conv3x3_weight().detach().requires_grad_(True)
    bias = layer.conv.bias.detach().clone().requires_grad_(True)
    expected = F.conv2d(x_ref, weight, bias, padding=1)
    out = layer(x)
    torch.testing.assert_close(out, expected)
    upstream = torch.randn_like(expected)
    (out * upstream).sum().backward()
    (expected * upstream).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(layer.conv.bias.grad, bias.grad)
    # the layer's (3, 1) weight gradient is the masked 3×3 one's non-zero columns; each value
    # sums 3·12·33 products (magnitude ~35), which the (3, 1) and 3×3 kernels add in different
    # orders (oneDNN's channels-last ones on some CPUs): float32 rounding differs by ~1e-6 of
    # that sum, so the tolerance is relative to it
    s, g = layer.static_channels, layer.shift_channels
    w = layer.conv.weight.grad[..., 0]
    close = {"rtol": 1e-5, "atol": 2e-6 * float(weight.grad.abs().max())}
    torch.testing.assert_close(w[:, :s], weight.grad[:, :s, :, 1], **close)
    torch.testing.assert_close(w[:, s : s + g], weight.grad[:, s : s + g, :, 0], **close)
    torch.testing.assert_close(w[:, s + g :], weight.grad[:, s + g :, :, 2], **close)


def test_without_a_compiler_the_pytorch_path_gives_the_same_values(monkeypatch, tmp_path, request):
    from shiftlab.models import shift_kernel

    shift_kernel._library.forget()
    request.addfinalizer(shift_kernel._library.forget)  # built again for the tests after this one
    monkeypatch.setenv("SHIFTLAB_NATIVE_SHIFT", "1")
    monkeypatch.setenv("PATH", str(tmp_path))  # no cc, gcc or clang to be found
    monkeypatch.delenv("CC", raising=False)
    assert native_shift_status() == "no C compiler (cc, gcc or clang) on PATH"
    out = time_shift(spec_vector_1().contiguous(memory_format=torch.channels_last))
    assert out[0, :, 0].tolist() == [[0, 1, 2], [3, 4, 5], [0, 6, 7], [10, 11, 0]]
