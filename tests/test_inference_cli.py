"""Train a tiny model of each task through the CLI, then eval, export and predict with it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import TINY, only_run_dir, run_shiftlab, run_without_torch
from tests.test_segmentation_cli import SMALL_SHAPES

TASKS = {
    "regression": ["task_name=fit", *TINY, "trainer.max_epochs=1", "model.channels=[4,4,8]"],
    "segmentation": [
        "experiment=segmentation_shapes",
        "task_name=fit",
        *SMALL_SHAPES,
        "trainer.max_epochs=1",
        "+model.encoder_depth=3",  # a small U-Net: export time grows with the graph
        "model.decoder_channels=[16,8,4]",
    ],
}


def write_inputs(kind: str, folder: Path) -> None:
    folder.mkdir()
    rng = np.random.default_rng(0)
    if kind == "regression":  # two lengths: batches group equal shapes
        for i, frames in enumerate((30, 30, 41)):
            np.save(folder / f"s{i}.npy", rng.normal(size=(256, frames)).astype(np.float32))
        return
    for i, size in enumerate(((64, 64), (64, 64), (48, 80))):
        pixels = rng.integers(0, 255, size=(*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i}.png")


def read_outputs(kind: str, folder: Path) -> dict[str, np.ndarray]:
    if kind == "regression":
        return {p.stem: np.load(p) for p in sorted(folder.glob("*.npy"))}
    if kind == "segmentation":
        return {p.stem: np.asarray(Image.open(p)) for p in sorted(folder.glob("*_mask.png"))}
    with (folder / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {Path(r["file"]).stem: np.array([float(v) for v in list(r.values())[3:]]) for r in rows}


@pytest.mark.parametrize("kind", ["regression", "segmentation", "classification"])
def test_train_then_eval_export_and_predict(kind, workdir):
    train_args = classification_args(workdir) if kind == "classification" else TASKS[kind]
    run_shiftlab("train", *train_args, cwd=workdir)
    run = only_run_dir(workdir / "outputs")
    checkpoint = run / "checkpoints" / "last.ckpt"
    trained = json.loads((run / "metrics.json").read_text())["metrics"]

    # the checkpoint loads with torch's safe loader and describes its model
    stored = torch.load(checkpoint, weights_only=True, map_location="cpu")["shiftlab"]
    assert stored["kind"] == kind and stored["config"]["model"]["_target_"]
    assert stored["metrics"] and stored["version"]

    # eval: the same test metrics as the run's own test (last = best after one epoch)
    run_shiftlab(
        "eval", f"ckpt_path={checkpoint}", "trainer.enable_progress_bar=false", cwd=workdir
    )
    (evaluation,) = (workdir / "outputs" / "eval" / "runs").iterdir()
    metrics = json.loads((evaluation / "metrics.json").read_text())["metrics"]
    assert metrics and all(metrics[k] == pytest.approx(trained[k], rel=1e-4) for k in metrics)

    # export: ONNX checked against PyTorch on two input sizes
    proc = run_shiftlab("export", f"ckpt_path={checkpoint}", cwd=workdir)
    onnx_file = checkpoint.with_suffix(".onnx")
    assert onnx_file.is_file()
    assert proc.stdout.count("ONNX vs PyTorch, input") == 2

    # predict from the checkpoint and from the .onnx file: the same outputs
    write_inputs(kind, workdir / "inputs")
    run_shiftlab(
        "predict", f"ckpt_path={checkpoint}", "input=inputs", "output_dir=from_ckpt", cwd=workdir
    )
    run_shiftlab(
        "predict", f"ckpt_path={onnx_file}", "input=inputs", "output_dir=from_onnx", cwd=workdir
    )
    from_ckpt = read_outputs(kind, workdir / "from_ckpt")
    from_onnx = read_outputs(kind, workdir / "from_onnx")
    assert len(from_ckpt) == 3 and from_ckpt.keys() == from_onnx.keys()
    for name, values in from_ckpt.items():
        if kind == "segmentation":
            assert (values != from_onnx[name]).mean() < 0.001  # argmax ties may flip a pixel
        else:
            assert np.abs(values - from_onnx[name]).max() < 1e-4
    if kind == "regression":
        assert from_ckpt["s2"].shape == (256, 41)  # the input's own length T
        assert (workdir / "from_ckpt" / "s2.png").is_file()
        assert_predicts_without_torch(onnx_file, workdir)
    if kind == "segmentation":
        assert from_ckpt["img2_mask"].shape == (48, 80)  # the input's own size
        assert (workdir / "from_ckpt" / "img2_overlay.png").is_file()


def assert_predicts_without_torch(onnx_file: Path, workdir: Path) -> None:
    """predict from an .onnx file with torch, torchvision and Lightning refused at import."""
    run_without_torch(
        "from pathlib import Path\n"
        "from shiftlab.inference.predicting import predict\n"
        f"predict({str(onnx_file)!r}, 'inputs', Path('no_torch'), 4)",
        workdir,
    )
    outputs = read_outputs("regression", workdir / "no_torch")
    reference = read_outputs("regression", workdir / "from_onnx")
    assert all(np.array_equal(outputs[k], reference[k]) for k in reference)


def classification_args(workdir: Path) -> list[str]:
    from tests.helpers import write_class_folders

    root = workdir / "classes"
    write_class_folders(root)
    return [
        "task=classification",
        "data=image_folder",
        f"data.root={root}",
        "data.image_size=[32,32]",
        "data.val_fraction=0.25",
        "data.test_fraction=0.25",
        "model=fashion_cnn",
        "task_name=fit",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
    ]


def test_predict_names_a_file_of_the_wrong_shape_and_keeps_what_it_wrote(workdir):
    run_shiftlab("train", *TASKS["regression"], cwd=workdir)
    checkpoint = only_run_dir(workdir / "outputs") / "checkpoints" / "last.ckpt"
    write_inputs("regression", workdir / "inputs")
    np.save(workdir / "inputs" / "z_bad.npy", np.zeros((100, 20), dtype=np.float32))
    proc = run_shiftlab(
        "predict", f"ckpt_path={checkpoint}", "input=inputs", "output_dir=out", "batch_size=1",
        cwd=workdir, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "z_bad.npy has 100 frequency bins; the model was trained on 256" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert sorted(p.name for p in (workdir / "out").glob("*.npy")) == ["s0.npy", "s1.npy", "s2.npy"]


def test_a_missing_or_foreign_checkpoint_is_named(workdir):
    proc = run_shiftlab("export", "ckpt_path=nothing.ckpt", cwd=workdir, check=False)
    assert proc.returncode == 1 and "no checkpoint at nothing.ckpt" in proc.stdout
    torch.save({"state_dict": {}}, workdir / "other.ckpt")
    proc = run_shiftlab("eval", "ckpt_path=other.ckpt", cwd=workdir, check=False)
    assert proc.returncode == 1 and "is not a shiftlab checkpoint" in proc.stdout + proc.stderr
