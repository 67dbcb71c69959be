"""The fused TSConv operator (shift read inside the (3, 1) convolution's loops): the spec's
shift vectors bit for bit, forward and gradients equal to the definition on random inputs,
and the cases where the layer keeps the shift plus ``F.conv2d``."""

from __future__ import annotations

import shutil

import pytest
import torch
import torch.nn.functional as F

from shiftlab.models import TSConvUNet, fused_tsconv
from shiftlab.models.fused_tsconv import fused_applies, fused_tsconv_status
from shiftlab.models.tsconv import TSConv2d, shift_groups, time_shift

needs_compiler = pytest.mark.skipif(
    not (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")),
    reason="the fused operator is compiled at first use",
)
pytestmark = needs_compiler
CL = torch.channels_last


@pytest.fixture
def fused_on(monkeypatch):
    """The operator on every layer it can run, on any CPU (AVX-512 or not), as tests need."""
    monkeypatch.setenv("SHIFTLAB_NATIVE_SHIFT", "1")
    monkeypatch.setenv("SHIFTLAB_FUSED_TSCONV", "1")


def identity_layer(channels: int) -> TSConv2d:
    """A layer whose convolution copies its (shifted) input: centre kernel row = identity."""
    layer = TSConv2d(channels, channels).to(memory_format=CL)
    with torch.no_grad():
        layer.conv.weight.zero_()
        layer.conv.weight[:, :, 1, 0] = torch.eye(channels)
        layer.conv.bias.zero_()
    return layer


def test_the_spec_shift_vectors_come_through_the_fused_layer_bit_for_bit(fused_on):
    # the spec's vectors 1 and 2 (x[0,c,0,t] = 3c + t; x[0,c,f,t] = 100c + 10f + t), at 32
    # channels: static [0, 16) unchanged, [16, 24) one step later, [24, 32) one step earlier
    c = 32
    layer = identity_layer(c)
    static, g = shift_groups(c)
    one = (3 * torch.arange(c).view(1, c, 1, 1) + torch.arange(3).view(1, 1, 1, 3)).float()
    two = (
        100 * torch.arange(c).view(1, c, 1, 1)
        + 10 * torch.arange(2).view(1, 1, 2, 1)
        + torch.arange(3).view(1, 1, 1, 3)
    ).float()
    for x in (one, two):
        x = x.contiguous(memory_format=CL)
        assert fused_applies(x, layer.conv)
        with torch.no_grad():
            out = layer(x)
        for ch in range(c):
            row = x[0, ch]
            if ch < static:
                expected = row
            elif ch < static + g:
                expected = F.pad(row[:, :-1], (1, 0))
            else:
                expected = F.pad(row[:, 1:], (0, 1))
            assert torch.equal(out[0, ch], expected), ch
    assert layer(one.contiguous(memory_format=CL))[0, 16, 0].tolist() == [0.0, 48.0, 49.0]
    assert layer(one.contiguous(memory_format=CL))[0, 24, 0].tolist() == [73.0, 74.0, 0.0]


@pytest.mark.parametrize(
    ("n", "c_in", "c_out", "f", "t", "bias"),
    [
        (2, 32, 32, 12, 33, True),
        (3, 16, 16, 5, 13, True),
        (1, 64, 48, 3, 27, False),
        (2, 48, 16, 4, 40, True),
        (1, 32, 16, 1, 1, True),  # one step: the shifted channels see only zeros
        (2, 16, 32, 2, 2, True),
        (1, 32, 32, 1, 300, True),  # one frequency row: the kernel's outer rows see padding
    ],
)
@pytest.mark.parametrize("threads", [1, 2])
def test_forward_and_gradients_equal_the_definition(
    fused_on, monkeypatch, n, c_in, c_out, f, t, bias, threads
):
    torch.manual_seed(0)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    # the loops split their lines over this many threads, however small the tensor
    monkeypatch.setattr(fused_tsconv, "_threads_for", lambda x: threads)
    try:
        layer = TSConv2d(c_in, c_out, bias=bias).to(memory_format=CL)
        x = torch.randn(n, c_in, f, t).contiguous(memory_format=CL).requires_grad_(True)
        assert fused_applies(x, layer.conv)
        out = layer(x)
        upstream = torch.randn_like(out)
        out.backward(upstream)
    finally:
        torch.set_num_threads(previous)
    # the definition, in float64: shift, then the (3, 1) convolution
    x64 = x.detach().double().requires_grad_(True)
    w64 = layer.conv.weight.detach().double().requires_grad_(True)
    b64 = layer.conv.bias.detach().double().requires_grad_(True) if bias else None
    expected = F.conv2d(time_shift(x64), w64, b64, padding=(1, 0))
    expected.backward(upstream.double())
    assert out.is_contiguous(memory_format=CL) and x.grad.is_contiguous(memory_format=CL)
    close = {"rtol": 1e-5, "atol": 1e-5}
    torch.testing.assert_close(out.double(), expected, **close)
    torch.testing.assert_close(x.grad.double(), x64.grad, **close)
    # weight and bias gradients sum n·f·t products each: tolerance relative to their size
    scale = float(w64.grad.abs().max())
    torch.testing.assert_close(
        layer.conv.weight.grad.double(), w64.grad, rtol=1e-5, atol=1e-6 * scale
    )
    if bias:
        scale = float(b64.grad.abs().max())
        torch.testing.assert_close(
            layer.conv.bias.grad.double(), b64.grad, rtol=1e-5, atol=1e-6 * scale
        )


def test_equal_to_the_masked_3x3_convolution_and_repeatable(fused_on):
    torch.manual_seed(3)
    layer = TSConv2d(32, 32).to(memory_format=CL)
    x = torch.randn(2, 32, 8, 19).contiguous(memory_format=CL)
    with torch.no_grad():
        out = layer(x)
        again = layer(x)
        expected = F.conv2d(x, layer.equivalent_conv3x3_weight(), layer.conv.bias, padding=1)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(out, again)  # fixed summation order: the same bits every call


def test_where_the_layer_keeps_the_shift_and_the_convolution(monkeypatch):
    monkeypatch.setenv("SHIFTLAB_NATIVE_SHIFT", "1")
    monkeypatch.delenv("SHIFTLAB_FUSED_TSCONV", raising=False)
    wide = TSConv2d(32, 32).to(memory_format=CL)
    x = torch.randn(1, 32, 4, 6).contiguous(memory_format=CL)
    avx512 = fused_tsconv_status() == "fused"
    assert fused_applies(x, wide.conv) == avx512  # auto: only where measured faster
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not fused_applies(x, wide.conv)  # autocast's bfloat16 convolution is F.conv2d's
    assert not fused_applies(x.contiguous(), wide.conv)  # channels-first memory
    assert not fused_applies(x.double(), TSConv2d(32, 32).double().to(memory_format=CL).conv)
    assert not fused_applies(
        torch.randn(1, 12, 4, 6).contiguous(memory_format=CL), TSConv2d(12, 16).conv
    )
    monkeypatch.setenv("SHIFTLAB_FUSED_TSCONV", "0")
    assert not fused_applies(x, wide.conv)
    assert fused_tsconv_status().startswith("off")
    monkeypatch.setenv("SHIFTLAB_FUSED_TSCONV", "1")
    monkeypatch.setenv("SHIFTLAB_NATIVE_SHIFT", "0")
    assert not fused_applies(x, wide.conv)


def test_circular_borders_and_pre_shifted_inputs_do_not_use_it(fused_on, monkeypatch):
    calls = []
    monkeypatch.setattr(fused_tsconv, "_forward", lambda *a: calls.append(a))
    x = torch.randn(1, 32, 4, 6).contiguous(memory_format=CL)
    with torch.no_grad():
        circular = TSConv2d(32, 32, border="circular").to(memory_format=CL)
        expected = circular.conv(time_shift(x, border="circular"))
        torch.testing.assert_close(circular(x), expected)
        TSConv2d(32, 32, shifted_input=True).to(memory_format=CL)(x)
    assert calls == []


def test_without_a_compiler_the_layer_gives_the_same_values(
    fused_on, monkeypatch, tmp_path, request
):
    torch.manual_seed(4)
    layer = TSConv2d(32, 32).to(memory_format=CL)
    x = torch.randn(2, 32, 5, 9).contiguous(memory_format=CL)
    with torch.no_grad():
        fused = layer(x)
    fused_tsconv._library.forget()
    request.addfinalizer(fused_tsconv._library.forget)  # built again for the tests after this one
    monkeypatch.setenv("PATH", str(tmp_path))  # no cc, gcc or clang to be found
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("SHIFTLAB_CACHE_DIR", str(tmp_path / "cache"))  # nothing built yet
    assert fused_tsconv_status() == "no C compiler (cc, gcc or clang) on PATH"
    assert not fused_applies(x, layer.conv)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), fused, rtol=1e-5, atol=1e-5)


def fused_layers_in(output: torch.Tensor) -> int:
    """How many fused TSConv operators the autograd graph behind ``output`` holds."""
    seen, stack, count = set(), [output.grad_fn], 0
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        count += type(node).__name__ == "_FusedTSConvBackward"
        stack.extend(next_node for next_node, _ in node.next_functions)
    return count


def test_the_unet_runs_its_wide_layers_on_the_fused_operator(monkeypatch):
    # channels multiples of 16 in every TSConv layer (the up blocks' inputs too: 32+32, 32+16):
    # each layer's input comes unshifted and the operator reads the shift, forward and back
    torch.manual_seed(5)
    net = TSConvUNet(channels=(16, 32, 32), freq_bins=16).to(memory_format=CL)
    x = torch.randn(2, 1, 16, 21).contiguous(memory_format=CL)
    results = {}
    for setting in ("1", "0"):
        monkeypatch.setenv("SHIFTLAB_FUSED_TSCONV", setting)
        net.zero_grad(set_to_none=True)
        out = net(x)
        out.square().mean().backward()
        grads = {name: p.grad.clone() for name, p in net.named_parameters()}
        results[setting] = (out.detach(), grads, fused_layers_in(out))
    (out, grads, fused), (expected, expected_grads, unfused) = results["1"], results["0"]
    assert (fused, unfused) == (8, 0)  # all eight TSConv layers; none with the operator off
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected_grads[name], rtol=1e-4, atol=1e-6, msg=name)
    # the spec's channels: only the bottom block's 16 → 16 layer has widths the operator takes
    spec = TSConvUNet(freq_bins=32).to(memory_format=CL)
    monkeypatch.setenv("SHIFTLAB_FUSED_TSCONV", "1")
    x = torch.randn(1, 1, 32, 5).contiguous(memory_format=CL).requires_grad_(True)
    assert fused_layers_in(spec(x)) == 1
