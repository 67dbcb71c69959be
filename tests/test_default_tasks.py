"""Each data option chooses the task it serves: a user names the data and the model, and the
task follows (``task=`` still overrides); a task that cannot use the data is refused at
launch, naming the tasks that can. Every task class declares a registered kind."""

from __future__ import annotations

import csv
import json

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import get_class

from shiftlab import config_dir
from shiftlab.errors import ConfigError
from shiftlab.tasks.fitting import check_data_fits_task, task_options
from shiftlab.tasks.kinds import KINDS
from tests.conftest import only_run_dir, run_shiftlab
from tests.helpers import write_class_folders, write_segmentation_folders

QUICK = [
    "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "data.batch_size=4",
    "data.val_fraction=0.25", "data.test_fraction=0.25",
]  # fmt: skip


def write_image_csv(root):
    """``root/images/*.png`` and ``root/labels.csv`` (columns ``files`` and ``type``)."""
    folders = write_class_folders(root / "classes", classes=("benign", "malignant"), per_class=8)
    (root / "images").mkdir()
    with (root / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["files", "type"])
        for image in sorted(folders.glob("*/*.png")):
            image.rename(root / "images" / image.name)
            writer.writerow([image.name, image.parent.name])
    return root / "images", root / "labels.csv"


@pytest.mark.parametrize("data", ["image_folder", "image_csv", "segmentation_folders"])
def test_naming_the_data_chooses_its_task(workdir, data):
    if data == "image_folder":
        root = write_class_folders(workdir / "classes", per_class=8, size=(20, 24))
        args = ["model=layer_classifier", "data=image_folder", f"data.root={root}"]
        args.append("data.image_size=[16,16]")
    elif data == "image_csv":
        images, labels = write_image_csv(workdir)
        args = ["model=layer_classifier", "data=image_csv", f"data.images_dir={images}"]
        args += [f"data.csv_path={labels}", "data.image_size=[16,16]"]
    else:
        root = write_segmentation_folders(workdir / "seg", count=8, size=(32, 32), classes=2)
        args = ["model=smp", "data=segmentation_folders", f"data.root={root}"]
        args += ["data.num_classes=2", "+model.decoder_channels=[32,16,8,8,8]"]
    run_shiftlab("train", *args, *QUICK, cwd=workdir)
    run = only_run_dir(workdir / "outputs")
    summary = json.loads((run / "metrics.json").read_text())
    expected = "segmentation" if data == "segmentation_folders" else "classification"
    assert summary["kind"] == expected
    assert summary["monitor"] == ("val/iou" if expected == "segmentation" else "val/accuracy")
    hydra_config = (run / ".hydra" / "hydra.yaml").read_text()
    task_option = "segmentation" if expected == "segmentation" else "classification"
    assert f"task: {task_option}" in hydra_config  # the choice, as Hydra records it


def test_a_task_that_cannot_use_the_data_is_refused_naming_the_one_that_can(workdir):
    root = write_segmentation_folders(workdir / "seg", count=8, size=(32, 32), classes=2)
    proc = run_shiftlab(
        "train", "task=classification", "model=layer_classifier", "data=segmentation_folders",
        f"data.root={root}", "data.num_classes=2", "+data.image_size=[32,32]", *QUICK[:2],
        cwd=workdir, check=False,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-2000:]
    assert (
        "task=classification cannot train on data=segmentation_folders: that data gives images "
        "with their masks, and the classification task needs images with a class label each. "
        "Task options that can use this data: segmentation"
    ) in output
    assert "Traceback" not in output
    assert not list(workdir.glob("outputs/*/runs/*/checkpoints/*.ckpt"))


def test_fitting_data_passes_and_the_tasks_that_can_use_data_are_listed():
    check_data_fits_task(
        "shiftlab.data.ImageFolder", "shiftlab.tasks.ImageClassification", None, None
    )
    with pytest.raises(ConfigError) as err:
        check_data_fits_task(
            "shiftlab.data.ShapesSynth", "shiftlab.tasks.SpectrogramRegression", None, None
        )
    assert str(err.value).startswith(
        "the regression task cannot train on shiftlab.data.ShapesSynth: that data gives images "
        "with their masks, and the regression task needs pairs of input and target "
        "spectrograms. Task options that can use this data: segmentation"
    )
    assert task_options("labelled_images") == ["classification"]
    assert task_options("image_mask_pairs") == ["segmentation"]
    assert task_options("spectrogram_pairs") == ["spectrogram_regression"]


def data_options() -> list[str]:
    return sorted(p.stem for p in (config_dir() / "data").glob("*.yaml"))


@pytest.mark.parametrize("option", data_options())
def test_every_data_option_chooses_a_task_that_trains_on_its_batches(option):
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=[f"data={option}"])
    data_class, task_class = get_class(cfg.data._target_), get_class(cfg.task._target_)
    assert KINDS[task_class.kind].trains_on == data_class.provides


def test_every_task_option_names_a_class_with_a_registered_kind():
    for path in sorted((config_dir() / "task").glob("*.yaml")):
        with initialize_config_dir(str(config_dir()), version_base="1.3"):
            cfg = compose("train", overrides=[f"task={path.stem}"])
        assert get_class(cfg.task._target_).kind in KINDS, path.name


def test_a_task_class_that_forgets_its_kind_is_refused_when_defined():
    from shiftlab.tasks import SemanticSegmentation, Task

    with pytest.raises(
        TypeError, match=r"Task class Forgetful \(tests\.test_default_tasks\) declares kind = None"
    ):

        class Forgetful(Task):
            pass

    with pytest.raises(TypeError, match="declares kind = 'keyword_spotting'"):

        class Unregistered(Task):
            kind = "keyword_spotting"

    class Base(Task, abstract=True):  # an intermediate base class is allowed to have none
        pass

    class Inherits(SemanticSegmentation):  # a subclass keeps its parent's kind
        pass

    assert Inherits.kind == "segmentation" and not hasattr(Base, "kind")
