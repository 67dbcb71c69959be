"""The regression task: padded frames never count, metrics in dB, baseline, standardising."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from torch import nn

from shiftlab.tasks import SpectrogramRegression
from shiftlab.tasks.spectral_metrics import LogSpectralDistance, to_db, valid_frames

# The task is exercised without a Trainer here; its self.log calls are no-ops.
pytestmark = pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")


class Scale(nn.Module):
    """A network that multiplies its input by a learnable factor."""

    def __init__(self) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        return self.k * x


def make_task(**kwargs) -> SpectrogramRegression:
    adam = functools.partial(torch.optim.Adam, lr=1e-3)
    return SpectrogramRegression(Scale(), adam, standardize=False, channels_last=False, **kwargs)


def padded_batch(fill: float) -> dict[str, torch.Tensor]:
    x = torch.randn(2, 1, 8, 6)
    y = torch.randn(2, 1, 8, 6)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    x[0, ..., 4:] = fill
    y[0, ..., 4:] = -fill
    return {"input": x, "target": y, "mask": mask}


def test_padded_frames_count_in_neither_loss_nor_metrics():
    task = make_task()
    torch.manual_seed(0)
    a = padded_batch(0.0)
    b = {k: v.clone() for k, v in a.items()}
    b["input"][0, ..., 4:] = 1e3
    b["target"][0, ..., 4:] = -1e3
    _, _, _, loss_a = task._shared_step(a)
    _, _, _, loss_b = task._shared_step(b)
    torch.testing.assert_close(loss_a, loss_b)
    for batch in (a, b):
        task._evaluate(batch, task.val_metrics, task.val_baseline, "val")
    values = task.val_metrics.compute()
    # both batches have identical real frames, so the metrics equal those of one batch
    task.val_metrics.reset()
    task._evaluate(a, task.val_metrics, task.val_baseline, "val")
    torch.testing.assert_close(task.val_metrics.compute(), values)


def test_valid_frames_selects_the_masked_frames():
    x = torch.arange(2 * 1 * 2 * 3, dtype=torch.float32).reshape(2, 1, 2, 3)
    mask = torch.tensor([[True, False, False], [True, True, True]])
    frames = valid_frames(x, mask)
    assert frames.shape == (4, 1, 2)
    assert frames[0, 0].tolist() == [0.0, 3.0]


def test_lsd_is_the_rms_difference_in_db():
    metric = LogSpectralDistance("log10_magnitude")
    target = torch.zeros(4, 1, 10)
    preds = torch.full((4, 1, 10), 0.5)  # 0.5 in log10 magnitude is 10 dB
    metric.update(preds, target)
    assert metric.compute().item() == pytest.approx(10.0)
    # half the bins off by 20 dB: per-frame RMS = sqrt(0.5 * 400)
    preds = torch.zeros(4, 1, 10)
    preds[..., :5] = 1.0
    metric = LogSpectralDistance("log10_magnitude")
    metric.update(preds, target)
    assert metric.compute().item() == pytest.approx(math.sqrt(200.0))


@pytest.mark.parametrize(
    ("scale", "value", "db"),
    [
        ("db", 6.0, 6.0),
        ("log10_power", 1.0, 10.0),
        ("magnitude", 10.0, 20.0),
        ("power", 100.0, 20.0),
        ("ln_magnitude", math.log(10.0), 20.0),
    ],
)
def test_scales_convert_to_db(scale, value, db):
    assert to_db(torch.tensor([value]), scale).item() == pytest.approx(db)


def test_unknown_scale_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"data\.scale, one of db, log10_magnitude"):
        make_task(scale="decibel")


def test_unknown_loss_says_how_to_use_any_torch_loss():
    with pytest.raises(ValueError, match="any torch loss by _target_"):
        make_task(loss="mae")


def test_identity_baseline_is_measured_on_the_input():
    task = make_task()
    batch = padded_batch(0.0)
    task._evaluate(batch, task.val_metrics, task.val_baseline, "val")
    baseline = task.val_baseline.compute()
    model = task.val_metrics.compute()
    # the network starts as the identity (k = 1), so model and baseline agree
    torch.testing.assert_close(baseline["val/mse_baseline"], model["val/mse"])
    assert set(baseline) == {"val/mse_baseline", "val/mae_baseline", "val/lsd_baseline"}


def test_standardize_maps_to_and_from_the_data_statistics():
    adam = functools.partial(torch.optim.Adam, lr=1e-3)
    task = SpectrogramRegression(nn.Identity(), adam, standardize=True, channels_last=False)
    for name, value in {
        "input_mean": -3.0,
        "input_std": 0.5,
        "target_mean": -2.0,
        "target_std": 2.0,
    }.items():
        getattr(task, name).fill_(value)
    x = torch.full((1, 1, 2, 2), -2.0)  # standardised: +2, then 2 * 2 - 2 = 2
    assert task(x).flatten().tolist() == [2.0] * 4
    assert "input_mean" in task.state_dict()


def test_non_finite_training_loss_stops_with_advice():
    task = make_task()
    batch = padded_batch(0.0)
    batch["input"][1, 0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match=r"Lower optimizer\.lr"):
        task.training_step(batch, 0)


def test_schedulers_chain_and_plateau_follows_the_monitor():
    exp = functools.partial(torch.optim.lr_scheduler.ExponentialLR, gamma=0.9)
    plateau = functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, mode="min")
    task = make_task(schedulers={"exponential": exp, "plateau": plateau}, monitor="val/mse")
    _, schedulers = task.configure_optimizers()
    assert [s["name"] for s in schedulers] == ["lr/exponential", "lr/plateau"]
    assert schedulers[1]["monitor"] == "val/mse" and "monitor" not in schedulers[0]
