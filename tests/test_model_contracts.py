"""Any network on any task whose contract it fits: padding to the network's size multiple
and cropping back, the three-family spectrogram sweep, the TSConv U-Net as a segmentor, and
the error for a network that cannot serve a task."""

from __future__ import annotations

import functools
import json

import pytest
import torch
from torch import nn

from shiftlab.errors import ConfigError
from shiftlab.tasks import SemanticSegmentation, SpectrogramRegression
from shiftlab.tasks.fitting import check_data_fits_task, check_model_fits_task, model_options
from shiftlab.tasks.padding import crop_to, pad_to_multiple
from tests.conftest import TINY, hparams_view, only_run_dir, run_shiftlab


class Recorder(nn.Module):
    """Returns its input and remembers the shape it was given."""

    output = "dense"
    size_multiple = (32, 32)

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(x.shape))
        return x * self.scale


@pytest.mark.parametrize("size", [(1, 1), (31, 33), (70, 45), (64, 96), (256, 7)])
def test_pad_then_crop_gives_the_input_back(size):
    x = torch.randn(2, 3, *size)
    padded, original = pad_to_multiple(x, (32, 32))
    assert padded.shape[-2] % 32 == 0 and padded.shape[-1] % 32 == 0
    assert padded.shape[-2] - size[0] < 32 and padded.shape[-1] - size[1] < 32
    assert torch.equal(crop_to(padded, original), x)
    assert padded[..., size[0] :, :].abs().sum() == 0  # zeros below and right only


@pytest.mark.parametrize("size", [(70, 45), (256, 37), (33, 1)])
def test_a_task_feeds_the_network_multiples_and_returns_the_input_size(size):
    net = Recorder()
    task = SpectrogramRegression(net, functools.partial(torch.optim.Adam), standardize=False)
    x = torch.randn(2, 1, *size)
    with torch.no_grad():
        out = task(x)
    (seen,) = net.seen
    assert seen[-2] % 32 == 0 and seen[-1] % 32 == 0
    assert torch.allclose(out, x)  # identity network: padding and cropping lose nothing


def test_a_classifier_cannot_serve_a_dense_task_and_the_error_names_the_fitting_options():
    with pytest.raises(ConfigError) as err:
        check_model_fits_task(
            "shiftlab.models.LayerClassifier", "shiftlab.tasks.SemanticSegmentation", "fashion_cnn"
        )
    message = str(err.value)
    assert "model=fashion_cnn outputs one score per class" in message
    assert "the segmentation task needs a map the size of its input" in message
    assert "tsconv_unet" in message and "smp_unet" in message and "fashion_cnn," not in message
    assert set(model_options("vector")) == {"fashion_cnn", "layer_classifier", "timm_classifier"}
    # fitting pairs pass
    check_model_fits_task(
        "shiftlab.models.SMPSegmentor", "shiftlab.tasks.SpectrogramRegression", None
    )
    check_model_fits_task("shiftlab.models.TSConvUNet", "shiftlab.tasks.SemanticSegmentation", None)


def test_a_model_that_does_not_fit_fails_at_launch_with_one_paragraph(workdir):
    proc = run_shiftlab("train", "model=fashion_cnn", *TINY, cwd=workdir, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "model=fashion_cnn outputs one score per class, but the regression task" in output
    assert "Model options that fit this task: conv_unet, smp" in output
    assert "Traceback" not in output and "InterpolationKeyError" not in output


def test_three_model_families_in_one_spectrogram_sweep(workdir):
    # T from 8 to 24 frames: never a multiple of the SMP U-Net's 32
    run_shiftlab(
        "train", "-m", "model=tsconv_unet,conv_unet,smp_unet", *TINY, "trainer.max_epochs=1",
        cwd=workdir,
    )  # fmt: skip
    (sweep,) = workdir.glob("outputs/train/multiruns/*")
    markdown = (sweep / "report.md").read_text()
    assert "3 jobs: 3 completed" in markdown
    for model in ("tsconv_unet", "conv_unet", "smp_unet"):
        assert f"| completed | {model} |" in markdown
    settings, metrics = hparams_view(sweep)
    assert {"choice/model", "model/block_conv", "model/arch", "model/encoder"} <= settings
    assert {"val/lsd", "test/lsd"} <= metrics


def test_the_tsconv_unet_segments_one_channel_images(workdir):
    run_shiftlab(
        "train",
        "data=shapes_grey",
        "model=tsconv_unet",
        "data.size=50",  # not a multiple of the U-Net's 32: padded and cropped by the task
        "data.num_train=16",
        "data.num_val=8",
        "data.num_test=8",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        cwd=workdir,
    )
    run = only_run_dir(workdir / "outputs")
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["monitor"] == "val/iou"
    assert 0 <= summary["metrics"]["test/iou"] <= 1
    assert "test/iou/triangle" in summary["metrics"]
    config = (run / "config.yaml").read_text()
    assert "freq_bins: null" in config and "in_channels: 1" in config


def test_segmentation_task_crops_a_tsconv_unet_mask_to_the_image():
    from shiftlab.models import TSConvUNet

    net = TSConvUNet(in_channels=1, out_channels=4, channels=[4, 4, 8], freq_bins=None)
    task = SemanticSegmentation(net, functools.partial(torch.optim.Adam), num_classes=4)
    with torch.no_grad():
        assert task(torch.randn(2, 1, 50, 37)).shape == (2, 4, 50, 37)


def test_waveform_networks_fit_the_waveform_tasks_and_nothing_else():
    assert model_options("frame_vectors") == ["crepe"]
    assert model_options("clip_vector") == ["waveform_layers"]
    for model in ("shiftlab.models.Crepe", "shiftlab.models.WaveformLayers"):
        check_model_fits_task(model, "shiftlab.tasks.AudioRegression", None)
    check_model_fits_task("shiftlab.models.Crepe", "shiftlab.tasks.PitchEstimation", None)
    with pytest.raises(ConfigError) as err:
        check_model_fits_task(
            "shiftlab.models.TSConvUNet", "shiftlab.tasks.PitchEstimation", "tsconv_unet"
        )
    assert "the pitch task needs one vector per frame of a waveform" in str(err.value)
    assert "Model options that fit this task: crepe." in str(err.value)
    with pytest.raises(ConfigError) as err:
        check_model_fits_task(
            "shiftlab.models.WaveformLayers", "shiftlab.tasks.PitchEstimation", "waveform_layers"
        )
    assert "outputs one vector per waveform clip" in str(err.value)
    with pytest.raises(ConfigError) as err:
        check_model_fits_task(
            "shiftlab.models.Crepe", "shiftlab.tasks.ImageClassification", "crepe"
        )
    assert "fashion_cnn, layer_classifier, timm_classifier" in str(err.value)
    with pytest.raises(ConfigError) as err:
        check_model_fits_task(
            "shiftlab.models.SMPSegmentor", "shiftlab.tasks.AudioRegression", None
        )
    message = str(err.value)
    assert "one vector per frame of a waveform or one vector per waveform clip" in message
    assert "crepe, waveform_layers" in message


def test_audio_data_names_the_tasks_that_can_use_it():
    with pytest.raises(ConfigError) as err:
        check_data_fits_task(
            "shiftlab.data.TonesSynth", "shiftlab.tasks.ImageClassification", "tones_synth",
            "classification",
        )  # fmt: skip
    assert "Task options that can use this data: audio_regression, pitch" in str(err.value)
