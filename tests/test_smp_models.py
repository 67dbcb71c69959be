"""SMP segmentors: every architecture builds and trains a step; sizes, errors, weights."""

from __future__ import annotations

import functools

import pytest
import torch

from shiftlab.errors import ConfigError
from shiftlab.models import SMPSegmentor
from shiftlab.models.smp_models import ARCHITECTURES
from shiftlab.tasks import SemanticSegmentation

# dpt needs a vision transformer encoder; pan pools its deepest features and needs 128 px.
ENCODER = {"dpt": "tu-vit_tiny_patch16_224"}
EXTRA = {"dpt": {"dynamic_img_size": True}}
SIZE = {"pan": 128}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_builds_and_takes_a_training_step(arch):
    torch.manual_seed(0)
    net = SMPSegmentor(
        arch, ENCODER.get(arch, "resnet18"), in_channels=1, num_classes=3, **EXTRA.get(arch, {})
    )
    size = SIZE.get(arch, 64)
    x = torch.randn(2, 1, size, size)
    out = net(x)
    assert out.shape == (2, 3, size, size)
    loss = torch.nn.functional.cross_entropy(out, torch.randint(0, 3, (2, size, size)))
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads[:5])


def test_task_pads_any_size_to_the_multiple_and_crops_back():
    net = SMPSegmentor("unet", "resnet18", in_channels=3, num_classes=4)
    assert net.size_multiple == (32, 32)
    task = SemanticSegmentation(net, functools.partial(torch.optim.Adam), num_classes=4)
    with torch.no_grad():
        out = task(torch.randn(1, 3, 70, 45))
    assert out.shape == (1, 4, 70, 45)


def test_unknown_architecture_suggests_the_nearest():
    with pytest.raises(ConfigError, match="Did you mean 'unetplusplus'"):
        SMPSegmentor("unetplus")


def test_unknown_encoder_suggests_names():
    with pytest.raises(ConfigError, match="unknown SMP encoder 'resnet19'; did you mean"):
        SMPSegmentor("unet", "resnet19")
    with pytest.raises(ConfigError, match="timm has no model"):
        SMPSegmentor("unet", "tu-notamodel_xyz")


def test_timm_encoders_work():
    net = SMPSegmentor("fpn", "tu-mobilenetv3_small_050", in_channels=3, num_classes=2)
    assert net(torch.randn(1, 3, 64, 64)).shape == (1, 2, 64, 64)


def test_freeze_encoder_trains_the_decoder_only():
    net = SMPSegmentor("unet", "resnet18", freeze_encoder=True)
    assert not any(p.requires_grad for p in net.model.encoder.parameters())
    assert all(p.requires_grad for p in net.model.decoder.parameters())


def test_encoder_weights_from_a_local_file(tmp_path):
    source = SMPSegmentor("unet", "resnet18")
    path = tmp_path / "encoder.pth"
    torch.save(source.model.encoder.state_dict(), path)
    loaded = SMPSegmentor("unet", "resnet18", encoder_weights=str(path))
    for a, b in zip(
        source.model.encoder.parameters(), loaded.model.encoder.parameters(), strict=True
    ):
        assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="does not exist"):
        SMPSegmentor("unet", "resnet18", encoder_weights=str(tmp_path / "missing.pth"))


def test_arguments_an_architecture_does_not_take_are_named():
    with pytest.raises(ConfigError, match=r"decoder_channels=\[8, 8\].*~model.decoder_channels"):
        SMPSegmentor("deeplabv3plus", "resnet18", decoder_channels=[8, 8])
