"""Speech enhancement end to end, as a user types it: train on synthetic speech (audio in
TensorBoard), predict recordings at two rates from the checkpoint and from the ONNX file,
and train on real speech (Debian's pocketsphinx-testdata) against its baseline."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.conftest import only_run_dir, read_events, run_shiftlab, run_without_torch

REAL_SPEECH = Path("/usr/share/pocketsphinx/test/data")
TINY_SPEECH = [
    "data.num_train=12", "data.num_val=2", "data.num_test=3", "data.max_seconds=1.5",
    "data.batch_size=4", "trainer.max_epochs=2", "trainer.enable_progress_bar=false",
    "model.channels=[4,4,8]",
]  # fmt: skip


def write_recordings(folder: Path) -> dict[str, int]:
    """Speech-like recordings at 16 kHz, 22.05 kHz (stereo) and a long one; name -> rate."""
    from shiftlab.data.audio import resample
    from shiftlab.data.synthetic_voice import VoiceSynthesis

    folder.mkdir(parents=True)
    voice = VoiceSynthesis(16_000, 1.0, 2.0)
    speech = voice.utterance(11, 0)
    soundfile.write(folder / "at16k.wav", speech, 16_000)
    other = resample(voice.utterance(11, 1), 16_000, 22_050)
    soundfile.write(folder / "at22k.wav", np.stack([other, 0.5 * other], axis=1), 22_050)
    long = np.concatenate([voice.utterance(11, i) for i in range(2, 8)])
    soundfile.write(folder / "long.flac", long, 16_000)
    return {"at16k.wav": 16_000, "at22k.wav": 22_050, "long.flac": 16_000}


@pytest.mark.slow
def test_speech_enhancement_trains_plays_and_predicts_from_checkpoint_and_onnx(workdir):
    run_shiftlab("train", "experiment=speech_enhancement", *TINY_SPEECH, cwd=workdir)
    run = only_run_dir(workdir / "outputs")
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["kind"] == "speech_enhancement" and summary["monitor"] == "val/lsd"
    for name in ("lsd", "si_sdr", "stoi"):
        assert np.isfinite(summary["metrics"][f"test/{name}"])
        assert np.isfinite(summary["metrics"][f"test/{name}_baseline"])
    rows = list(csv.DictReader((run / "test_per_file.csv").open()))
    assert len(rows) == 3 and set(rows[0]) == {
        "index", "si_sdr", "si_sdr_baseline", "stoi", "stoi_baseline",
    }  # fmt: skip
    tags = read_events(run / "tensorboard").Tags()
    for clip in ("degraded", "enhanced", "clean"):
        assert f"val/audio/0_{clip}" in tags["audio"]
    assert "val/spectrograms/0_input_target_prediction" in tags["images"]

    rates = write_recordings(workdir / "recordings")
    checkpoint = run / "checkpoints" / "last.ckpt"
    predict = ["input=recordings", "chunk_frames=64", "chunk_overlap=16"]
    run_shiftlab("predict", f"ckpt_path={checkpoint}", *predict, "output_dir=from_ckpt",
                 cwd=workdir)  # fmt: skip
    run_shiftlab("export", f"ckpt_path={checkpoint}", cwd=workdir)
    onnx_file = checkpoint.with_suffix(".onnx")
    run_shiftlab("predict", f"ckpt_path={onnx_file}", *predict, "output_dir=from_onnx",
                 cwd=workdir)  # fmt: skip
    for name, rate in rates.items():
        source = soundfile.info(str(workdir / "recordings" / name))
        enhanced, enhanced_rate = soundfile.read(workdir / "from_ckpt" / name)
        from_onnx, onnx_rate = soundfile.read(workdir / "from_onnx" / name)
        assert enhanced_rate == onnx_rate == rate
        assert len(enhanced) == len(from_onnx) == source.frames and enhanced.ndim == 1
        assert np.abs(enhanced - from_onnx).max() <= 1e-3
        assert np.abs(enhanced).max() > 1e-3  # not silence
    assert_predicts_recordings_without_torch(onnx_file, workdir)


def assert_predicts_recordings_without_torch(onnx_file: Path, workdir: Path) -> None:
    """predict from an .onnx file with torch and Lightning refused at import."""
    run_without_torch(
        "from pathlib import Path\n"
        "from shiftlab.inference.predicting import predict\n"
        f"predict({str(onnx_file)!r}, 'recordings', Path('no_torch'), 4, chunk_frames=64, "
        "chunk_overlap=16)",
        workdir,
    )
    for name in ("at16k.wav", "at22k.wav", "long.flac"):
        a, _ = soundfile.read(workdir / "no_torch" / name)
        b, _ = soundfile.read(workdir / "from_onnx" / name)
        assert np.array_equal(a, b)


def degraded_copy(clean: Path, noisy: Path) -> None:
    """Every recording under ``clean`` degraded (as data.degradation would), same relative path."""
    from shiftlab.data.degradation import Degradation

    for i, path in enumerate(sorted(clean.rglob("*.wav"))):
        wave, rate = soundfile.read(path, dtype="float32")
        target = noisy / path.relative_to(clean)
        target.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(target, Degradation()(wave, rate, np.random.default_rng(i)), rate)


@pytest.mark.slow
@pytest.mark.skipif(not REAL_SPEECH.is_dir(), reason="apt-get install pocketsphinx-testdata")
def test_real_speech_folders_train_beat_their_baseline_and_predict_at_any_rate(workdir):
    degraded_copy(REAL_SPEECH, workdir / "noisy")
    run_shiftlab(
        "train", "experiment=speech_enhancement", "data=speech_wav",
        f"data.inputs={workdir / 'noisy'}", f"data.targets={REAL_SPEECH}",
        "data.val_fraction=0.2", "data.test_fraction=0.2", "data.batch_size=8",
        "data.crops_per_item=16", "optimizer.lr=3e-3", "trainer.max_epochs=8",
        "trainer.enable_progress_bar=false", cwd=workdir,
    )  # fmt: skip
    (run,) = (workdir / "outputs" / "speech_enhancement" / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    assert metrics["test/lsd"] < metrics["test/lsd_baseline"] - 1.0  # dB
    splits = list(csv.DictReader((run / "splits.csv").open()))
    assert len(splits) == 10 and {r["split"] for r in splits} == {"train", "val", "test"}
    assert all(r["input"].startswith(str(workdir / "noisy")) for r in splits)

    # predict real recordings at 16 kHz and at 44.1 kHz, from the checkpoint and from ONNX
    from shiftlab.data.audio import resample

    (workdir / "real").mkdir()
    speech, rate = soundfile.read(REAL_SPEECH / "cards" / "001.wav", dtype="float32")
    soundfile.write(workdir / "real" / "001.wav", speech, rate)
    soundfile.write(workdir / "real" / "001_44k.wav", resample(speech, rate, 44_100), 44_100)
    checkpoint = run / "checkpoints" / "last.ckpt"
    run_shiftlab("export", f"ckpt_path={checkpoint}", cwd=workdir)
    for source, folder in (
        (checkpoint, "from_ckpt"),
        (checkpoint.with_suffix(".onnx"), "from_onnx"),
    ):
        run_shiftlab("predict", f"ckpt_path={source}", "input=real", f"output_dir={folder}",
                     cwd=workdir)  # fmt: skip
    for name, expected_rate in (("001.wav", 16_000), ("001_44k.wav", 44_100)):
        a, rate_a = soundfile.read(workdir / "from_ckpt" / name)
        b, rate_b = soundfile.read(workdir / "from_onnx" / name)
        assert rate_a == rate_b == expected_rate
        assert len(a) == len(b) == soundfile.info(str(workdir / "real" / name)).frames
        assert np.abs(a - b).max() <= 1e-3

    # eval on a folder pair: three held-out recordings and their degraded copies
    held_out = workdir / "held_out"
    for row in splits[:3]:
        for side, column in (("clean", "target"), ("noisy", "input")):
            (held_out / side).mkdir(parents=True, exist_ok=True)
            source = Path(row[column])
            (held_out / side / source.name).write_bytes(source.read_bytes())
    proc = run_shiftlab(
        "eval", f"ckpt_path={checkpoint}", f"data.test_targets={held_out / 'clean'}",
        f"data.test_inputs={held_out / 'noisy'}", cwd=workdir,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert "test/stoi_baseline" in output and "test/si_sdr" in output
    (evaluation,) = (workdir / "outputs" / "eval" / "runs").iterdir()
    assert "test/lsd" in json.loads((evaluation / "metrics.json").read_text())["metrics"]
    assert len(list(csv.DictReader((evaluation / "test_per_file.csv").open()))) == 3
