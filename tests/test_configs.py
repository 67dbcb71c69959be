"""Every option of every config group composes and instantiates (new files are covered
automatically), and the configs interpolate values between groups as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from shiftlab import config_dir
from shiftlab.config.schema import validate
from shiftlab.run.building import build, build_task
from shiftlab.run.training import _items
from tests.helpers import (
    write_class_folders,
    write_idx,
    write_npy_dataset,
    write_segmentation_folders,
)

GROUPS_WITH_A_HYDRA_OVERRIDE = {"hydra"}  # composed by Hydra itself, checked in test_cli


def all_options() -> list[tuple[str, str]]:
    options = []
    for group in sorted(p for p in config_dir().iterdir() if p.is_dir()):
        if group.name in GROUPS_WITH_A_HYDRA_OVERRIDE:
            continue
        for option in sorted(group.glob("*.yaml")):
            options.append((group.name, option.stem))
    return options


def compose_train(overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


# Options of another task than the default one are checked on that task's experiment.
SEGMENTATION = {
    ("data", "shapes_synth"),
    ("data", "shapes_grey"),
    ("data", "segmentation_folders"),
    ("task", "segmentation"),
}
SPECTROGRAM_SMALL = ["data.num_train=4", "data.num_val=2", "data.num_test=2",
                     "data.max_frames=12", "data.min_frames=4"]  # fmt: skip
SHAPES_SMALL = ["data.num_train=4", "data.num_val=2", "data.num_test=2", "data.size=32"]
SPEECH = {
    ("data", "speech_synth"), ("data", "speech_wav"), ("task", "speech_enhancement"),
    ("experiment", "speech_enhancement"),
}  # fmt: skip
SPEECH_SMALL = ["data.num_train=4", "data.num_val=2", "data.num_test=2", "data.max_seconds=1.2",
                "data.batch_size=2"]  # fmt: skip
WAVEFORM = {
    ("data", "drums_synth"), ("data", "tones_synth"), ("data", "audio_csv"),
    ("model", "crepe"), ("model", "waveform_layers"), ("task", "pitch"),
    ("task", "audio_regression"), ("experiment", "drum_size_crepe"),
    ("experiment", "pitch_crepe"),
}  # fmt: skip
WAVEFORM_SMALL = ["data.num_train=8", "data.num_val=4", "data.num_test=4", "data.batch_size=4",
                  "data.eval_batch_size=4"]  # fmt: skip
CLASSIFICATION = {
    ("data", "image_folder"), ("data", "image_csv"), ("data", "fashion_mnist"),
    ("model", "layer_classifier"), ("model", "timm_classifier"), ("model", "fashion_cnn"),
    ("task", "classification"), ("experiment", "fashion_mnist_cnn"),
}  # fmt: skip


def classification_overrides(group: str, option: str, tmp_path: Path) -> list[str]:
    """Classification options run on small data the test writes (no download)."""
    base = [] if group == "experiment" else ["experiment=fashion_mnist_cnn"]
    if (group, option) in {("data", "fashion_mnist"), ("experiment", "fashion_mnist_cnn")}:
        for prefix, n in (("train", 20), ("t10k", 10)):
            write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", np.zeros((n, 28, 28)))
            write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
        return [*base, f"{group}={option}", f"data.root={tmp_path}", "data.val_fraction=0.5"]
    if (group, option) == ("data", "image_csv"):
        images = write_class_folders(tmp_path / "csv", classes=("all",), per_class=8)
        with (tmp_path / "labels.csv").open("w") as f:
            f.write("files,type\n" + "".join(f"all_{i}.png,{'ab'[i % 2]}\n" for i in range(8)))
        return [
            *base,
            "data=image_csv",
            f"data.images_dir={images / 'all'}",
            f"data.csv_path={tmp_path / 'labels.csv'}",
            "data.image_size=[16,16]",
            "data.val_fraction=0.25",
            "data.test_fraction=0.25",
        ]
    root = write_class_folders(tmp_path / "folders", per_class=4)
    model = ["model.name=resnet18"] if option == "timm_classifier" else []
    return [
        *base,
        "data=image_folder",
        f"{group}={option}",
        f"data.root={root}",
        "data.image_size=[16,16]",
        "data.val_fraction=0.25",
        "data.test_fraction=0.25",
        *model,
    ]


def waveform_overrides(group: str, option: str, extra: list[str], tmp_path: Path) -> list[str]:
    """Waveform options run on their experiments, on a few synthetic clips or notes."""
    if (group, option) == ("data", "audio_csv"):
        import soundfile

        from shiftlab.data.synthetic_tones import ToneSynthesis

        (tmp_path / "notes").mkdir()
        rows = ["file,f0"]
        for i in range(10):
            note = ToneSynthesis().note(3, i)
            soundfile.write(tmp_path / "notes" / f"{i}.wav", note.samples, 16000)
            rows.append(f"{i}.wav,{note.f0:.2f}")
        (tmp_path / "notes" / "labels.csv").write_text("\n".join(rows) + "\n")
        return ["experiment=pitch_crepe", *extra, f"data.root={tmp_path / 'notes'}",
                "data.target_columns=[f0]", "data.val_fraction=0.2", "data.test_fraction=0.2",
                "data.batch_size=2"]  # fmt: skip
    if group == "experiment":
        return [*extra, *WAVEFORM_SMALL]
    if option == "waveform_layers":  # the experiments set CRePE's capacity
        return ["data=drums_synth", *extra, *WAVEFORM_SMALL]
    pitch = option in ("tones_synth", "pitch", "crepe")
    return [f"experiment={'pitch_crepe' if pitch else 'drum_size_crepe'}", *extra, *WAVEFORM_SMALL]


def overrides_for(group: str, option: str, tmp_path: Path) -> list[str]:
    extra = [f"{group}={option}", f"paths.output_dir={tmp_path}", f"paths.log_dir={tmp_path}"]
    if (group, option) in WAVEFORM:
        return waveform_overrides(group, option, extra, tmp_path)
    if (group, option) in CLASSIFICATION:
        return [*classification_overrides(group, option, tmp_path), *extra[1:]]
    if (group, option) == ("data", "spectrogram_npy"):
        x, y = write_npy_dataset(tmp_path / "npy", [5, 6, 7, 8, 9, 10, 11, 12], freq_bins=64)
        return [
            *extra,
            f"data.train_data_path={x}",
            f"data.segmented_data_path={y}",
            "data.freq_bins=64",
            "data.val_fraction=0.25",
            "data.test_fraction=0.25",
        ]
    if (group, option) == ("data", "segmentation_folders"):
        root = write_segmentation_folders(tmp_path / "folders", count=10, size=(32, 40))
        return [
            "experiment=segmentation_shapes",
            *extra,
            f"data.root={root}",
            "data.num_classes=3",
            "data.batch_size=2",
        ]
    if (group, option) == ("data", "speech_wav"):
        import soundfile

        from shiftlab.data.synthetic_voice import VoiceSynthesis

        (tmp_path / "clean").mkdir()
        for i in range(6):
            soundfile.write(
                tmp_path / "clean" / f"{i}.wav", VoiceSynthesis().utterance(1, i), 16000
            )
        return ["experiment=speech_enhancement", *extra, f"data.targets={tmp_path / 'clean'}",
                "data.val_fraction=0.2", "data.test_fraction=0.2", "data.batch_size=2"]  # fmt: skip
    if (group, option) in SPEECH:
        return ["experiment=speech_enhancement", *extra, *SPEECH_SMALL]
    if (group, option) in SEGMENTATION:
        return ["experiment=segmentation_shapes", *extra, *SHAPES_SMALL]
    if group == "experiment" and option.startswith("segmentation"):
        return [*extra, *SHAPES_SMALL]
    if group == "trainer":
        extra.append("trainer.accelerator=cpu")  # gpu/ddp options, checked on a CPU machine
    return [*extra, *SPECTROGRAM_SMALL]


def test_the_conf_tree_has_the_documented_groups():
    names = {p.name for p in config_dir().iterdir() if p.is_dir()}
    assert {
        "model",
        "data",
        "task",
        "optimizer",
        "scheduler",
        "trainer",
        "logger",
        "callbacks",
        "paths",
        "hydra",
        "debug",
        "experiment",
    } <= names
    assert len({o for g, o in all_options() if g == "optimizer"}) == 10


@pytest.mark.parametrize(("group", "option"), all_options(), ids=lambda v: str(v))
def test_every_option_composes_and_instantiates(group, option, tmp_path):
    cfg = compose_train(overrides_for(group, option, tmp_path))
    run_keys = [k for k in cfg if k != "hydra"]
    OmegaConf.to_container(OmegaConf.masked_copy(cfg, run_keys), resolve=True)  # all resolve
    validate(OmegaConf.masked_copy(cfg, run_keys))  # every shipped option meets the schema
    datamodule = build(cfg.data, "data")
    datamodule.setup("fit")
    task = build_task(cfg, datamodule)
    net = task.net
    optimizer = build(cfg.optimizer, "optimizer")
    schedulers = build(cfg.scheduler, "scheduler") if cfg.scheduler else None
    callbacks = [build(n, k) for k, n in _items(cfg.get("callbacks"))]
    loggers = [build(n, k) for k, n in _items(cfg.get("logger"))]
    trainer = build(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False)
    assert trainer.max_epochs >= 1
    # the optimizer and schedulers really take the network's parameters
    opt = optimizer(params=net.parameters())
    assert isinstance(opt, torch.optim.Optimizer)
    for factory in (schedulers or {}).values():
        factory(optimizer=opt)
    # one forward pass of the composed network on a batch of the composed data
    batch = next(iter(datamodule.val_dataloader()))
    batch = datamodule.on_after_batch_transfer(batch, 0)  # as the trainer finishes it
    with torch.no_grad():
        if "input" in batch:
            assert task(batch["input"]).shape == batch["target"].shape
        elif "audio" in batch and task.kind == "pitch":
            frames = 1 + batch["audio"].shape[1] // task.hop_length
            out = task(task.centre_padded(batch["audio"]))
            assert out.shape == (batch["audio"].shape[0], frames, 360)
        elif "audio" in batch:
            assert task(batch["audio"]).shape == batch["targets"].shape
        elif "label" in batch:
            assert task(batch["image"]).shape == (batch["label"].shape[0], task.num_classes)
        else:
            out = task(batch["image"])
            assert (
                out.shape[0] == batch["mask"].shape[0] and out.shape[2:] == batch["mask"].shape[1:]
            )


def test_model_follows_the_data_by_interpolation(tmp_path):
    cfg = compose_train([f"paths.output_dir={tmp_path}", "data.freq_bins=128"])
    assert cfg.model.freq_bins == 128
    assert cfg.task.scale == cfg.data.scale


def test_monitor_is_named_once_and_followed_everywhere(tmp_path):
    cfg = compose_train(
        [
            f"paths.output_dir={tmp_path}",
            "task.monitor=val/mse",
            "scheduler=plateau",
            "task.monitor_mode=max",
        ]
    )
    assert cfg.callbacks.model_checkpoint.monitor == "val/mse"
    assert cfg.callbacks.early_stopping.monitor == "val/mse"
    assert cfg.callbacks.model_checkpoint.mode == "max"
    assert cfg.scheduler.plateau.mode == "max"


def test_a_chain_of_schedulers_is_one_option(tmp_path):
    cfg = compose_train([f"paths.output_dir={tmp_path}", "scheduler=exponential_plateau"])
    assert list(cfg.scheduler) == ["exponential", "plateau"]


def test_any_torch_loss_by_target_from_the_command_line(tmp_path):
    cfg = compose_train(
        [f"paths.output_dir={tmp_path}", "task.loss={_target_: torch.nn.HuberLoss, delta: 0.5}"]
    )
    task = build(cfg.task, "task", net=torch.nn.Identity(), optimizer=build(cfg.optimizer, "o"))
    assert isinstance(task.loss_fn, torch.nn.HuberLoss) and task.loss_fn.delta == 0.5
