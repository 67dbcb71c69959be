"""The schema checked at launch, the nearest-name suggestions, resume's command line and
the per-epoch seeds: the pieces behind the reliability of a run, one at a time."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch
import yaml
from omegaconf import OmegaConf

from shiftlab.callbacks import EpochSeed
from shiftlab.cli.errors import did_you_mean
from shiftlab.config.schema import validate
from shiftlab.errors import ConfigError
from shiftlab.run.resume import resume_arguments


def config(**overrides):
    base = {
        "seed": 1,
        "optimizer": {"lr": 1e-3, "weight_decay": 0.0},
        "data": {"batch_size": 8, "val_fraction": 0.1, "test_fraction": 0.1},
        "trainer": {"max_epochs": 3, "devices": 1, "precision": "32-true"},
        "task": {"monitor_mode": "min"},
    }
    cfg = OmegaConf.create(base)
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    return cfg


def test_a_valid_config_passes():
    validate(config())


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("optimizer.lr", 0, "optimizer.lr=0 is not valid: it must be a number > 0"),
        ("optimizer.lr", float("nan"), "optimizer.lr=nan is not valid"),
        ("optimizer.lr", "fast", "optimizer.lr='fast' is not valid"),
        ("data.batch_size", 0, "data.batch_size=0 is not valid: it must be an integer ≥ 1"),
        ("data.batch_size", 2.5, "data.batch_size=2.5 is not valid"),
        ("data.batch_size", True, "data.batch_size=True is not valid"),
        ("data.val_fraction", 1.0, "data.val_fraction=1.0 is not valid: it must be a number in"),
        ("trainer.devices", 0, "trainer.devices=0 is not valid"),
        ("trainer.precision", "fp8", "trainer.precision='fp8' is not valid: it must be one of"),
        ("task.monitor_mode", "max_", "task.monitor_mode='max_' is not valid"),
        ("seed", "abc", "seed='abc' is not valid"),
    ],
)
def test_a_bad_value_names_the_key_what_it_must_be_and_an_example(key, value, message):
    with pytest.raises(ConfigError) as err:
        validate(config(**{key: value}))
    assert message in str(err.value)
    assert f"e.g. {key}=" in str(err.value)


def test_fractions_that_leave_no_training_data():
    with pytest.raises(ConfigError, match="leaves nothing to train on"):
        validate(config(**{"data.val_fraction": 0.5, "data.test_fraction": 0.5}))
    validate(config(**{"data.val_fraction": 0.5, "data.test_fraction": 0.4}))


def test_a_required_value_and_a_missing_path(tmp_path):
    cfg = config()
    cfg.data.root = "???"
    with pytest.raises(ConfigError, match=r"data.root is required .*but not set: add data.root="):
        validate(cfg)
    cfg.data.root = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no such file or folder"):
        validate(cfg)
    cfg.data.root = str(tmp_path)
    validate(cfg)


def test_did_you_mean():
    assert did_you_mean("lrr", ["lr", "betas", "weight_decay"]) == " Did you mean 'lr'?"
    assert did_you_mean("zzz", ["lr"]) == ""


def write_run(folder, overrides):
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "last.ckpt").write_bytes(b"x")
    (folder / "checkpoints" / ".last.ckpt.123.partial").write_bytes(b"half")
    return folder


def test_resume_repeats_the_runs_overrides_with_the_new_ones_on_top(tmp_path):
    run = write_run(tmp_path / "run", ["model=conv_unet", "trainer.max_epochs=5", "ckpt_path=a"])
    args = resume_arguments(str(run), ["trainer.max_epochs=9"])
    assert args[:2] == ["model=conv_unet", "trainer.max_epochs=9"]
    assert f"hydra.run.dir='{run}'" in args
    assert f"ckpt_path='{run / 'checkpoints' / 'last.ckpt'}'" in args
    assert "ckpt_path=a" not in args and "trainer.max_epochs=5" not in args
    assert not list((run / "checkpoints").glob(".*.partial"))  # an interrupted save


def test_resume_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ConfigError, match="not a run directory"):
        resume_arguments(str(tmp_path), [])


class FakeTrainer:
    def __init__(self, epoch):
        self.current_epoch, self.global_rank = epoch, 0


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_each_epoch_draws_the_same_numbers_however_the_run_got_there():
    seeding = EpochSeed(seed=7)
    seeding.on_train_epoch_start(FakeTrainer(3), None)
    first = draws()
    torch.rand(1000), np.random.rand(10)  # a different history
    seeding.on_train_epoch_start(FakeTrainer(3), None)
    assert draws() == first
    seeding.on_train_epoch_start(FakeTrainer(4), None)
    assert draws() != first


def failing_app():
    raise ConfigError("optimizer.lr=0 is not valid")


def test_errors_are_explained_unless_the_user_asks_for_the_trace(monkeypatch, capsys):
    from shiftlab.cli.errors import FULL_ERROR, SET_BY_US, run_app

    monkeypatch.delenv(FULL_ERROR, raising=False)
    monkeypatch.delenv(SET_BY_US, raising=False)
    with pytest.raises(SystemExit) as ended:
        run_app(failing_app, "train")
    assert ended.value.code == 1
    assert "shiftlab train: optimizer.lr=0 is not valid" in capsys.readouterr().err
    assert FULL_ERROR not in os.environ  # set for the call only

    # A process that a run started (a DDP rank) inherits both variables: still one paragraph.
    monkeypatch.setenv(FULL_ERROR, "1")
    monkeypatch.setenv(SET_BY_US, "1")
    with pytest.raises(SystemExit):
        run_app(failing_app, "train")

    monkeypatch.setenv(FULL_ERROR, "1")  # the user's own HYDRA_FULL_ERROR=1: the exception
    monkeypatch.delenv(SET_BY_US, raising=False)
    with pytest.raises(ConfigError):
        run_app(failing_app, "train")
