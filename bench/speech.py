"""Speech enhancement: real-time factor of ``predict`` (seconds of audio per second, from the
checkpoint and from the ONNX file), and the training input pipeline against the step it feeds.

    .venv/bin/python bench/speech.py                  # 3 rounds, ~2 minutes on 2 cores
    .venv/bin/python bench/speech.py --seconds 120 --rounds 5 --json speech.json

The models are the U-Net of ``experiment=speech_enhancement`` and the default TSConv U-Net
of ``model=tsconv_unet`` (each trained for one short epoch: speed does not depend on the
weights), on one 16 kHz recording of synthetic speech, every model and backend in turn each
round. The pipeline figure is the time to load one
training batch (read or synthesise, degrade, crop, STFT: ``data=speech_synth`` and
``data=speech_wav`` from files) over the time of one training step on it, both in this
process: below 1, a loader worker per core keeps the step fed; far below, loading in the
step's own process costs little. Peak memory is the process's largest resident set.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
from _common import (
    REPO,
    SHIFTLAB,
    compose_train,
    interleaved,
    machine,
    median_spread,
    run_quiet,
    write_json,
)

from shiftlab.data.synthetic_voice import VoiceSynthesis
from shiftlab.inference.predicting import predict
from shiftlab.run.building import build, build_task

TRAIN = [
    "experiment=speech_enhancement", "data.num_train=8", "data.num_val=2", "data.num_test=2",
    "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
]  # fmt: skip


# The experiment's U-Net, and the TSConv U-Net of the spectrogram default (model/tsconv_unet.yaml).
MODELS = {
    "speech experiment (31 k)": [],
    "tsconv_unet default (4.2 k)": ["model.channels=[4,4,4,8,8,16]", "model.residual=false"],
}


def trained_model(root: Path, overrides: list[str]) -> tuple[Path, Path]:
    """A checkpoint of the speech experiment (with ``overrides``) and its ONNX export."""
    run_dir = root / f"run{len(list(root.glob('run*')))}"
    run_quiet([str(SHIFTLAB), "train", *TRAIN, *overrides, f"hydra.run.dir={run_dir}"], cwd=REPO)
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    run_quiet([str(SHIFTLAB), "export", f"ckpt_path={checkpoint}"], cwd=REPO)
    return checkpoint, checkpoint.with_suffix(".onnx")


def recording(root: Path, seconds: float) -> Path:
    voice = VoiceSynthesis(16_000, 1.0, 2.5)
    parts, total, i = [], 0, 0
    while total < seconds * 16_000:
        parts.append(voice.utterance(99, i))
        total += len(parts[-1])
        i += 1
    path = root / "inputs" / "speech.wav"
    path.parent.mkdir(parents=True)
    soundfile.write(path, np.concatenate(parts)[: int(seconds * 16_000)], 16_000)
    return path.parent


def pipeline(option: str, root: Path, batches: int) -> tuple[float, float]:
    """(seconds to load a training batch, seconds of a training step on it)."""
    extra = []
    if option == "speech_wav":
        folder = root / "clean"
        folder.mkdir(exist_ok=True)
        voice = VoiceSynthesis(16_000, 1.0, 2.5)
        for i in range(64):
            soundfile.write(folder / f"{i:03d}.wav", voice.utterance(5, i), 16_000)
        extra = [f"data.targets={folder}"]
    cfg = compose_train(["experiment=speech_enhancement", f"data={option}", *extra,
                         f"paths.output_dir={root / option}"])  # fmt: skip
    data = build(cfg.data, "data")
    task = build_task(cfg, data)
    configured = task.configure_optimizers()
    optimizer = configured["optimizer"] if isinstance(configured, dict) else configured[0][0]
    loader = iter(data.train_dataloader())
    for _ in data.train_dataloader():  # one epoch first: what every later epoch costs
        pass
    load, step = [], []
    for _ in range(batches):
        started = time.perf_counter()
        batch = next(loader, None)
        if batch is None:  # a new epoch
            loader = iter(data.train_dataloader())
            batch = next(loader)
        load.append(time.perf_counter() - started)
        started = time.perf_counter()
        preds = task(batch["input"])
        loss = torch.nn.functional.mse_loss(preds, batch["target"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step.append(time.perf_counter() - started)
    return float(np.median(load)), float(np.median(step))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the recording")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs = recording(root, args.seconds)

        def timed(model: Path):
            def run() -> float:
                started = time.perf_counter()
                predict(str(model), str(inputs), root / "out", 16)
                return args.seconds / (time.perf_counter() - started)

            return run

        variants = {}
        for model, overrides in MODELS.items():
            checkpoint, onnx_file = trained_model(root, overrides)
            variants[f"{model}, checkpoint"] = timed(checkpoint)
            variants[f"{model}, onnx"] = timed(onnx_file)
        rtf = interleaved(variants, args.rounds)
        print(f"\nReal-time factor of `shiftlab predict` on {args.seconds:.0f} s of 16 kHz "
              "speech (seconds of audio per second, model loading included; "
              "target ≥ 100):\n")  # fmt: skip
        print("| model, file | median | lowest | highest |")
        print("|---|---|---|---|")
        for name, values in rtf.items():
            mid, low, high = median_spread(values)
            print(f"| {name} | {mid:.0f}× | {low:.0f}× | {high:.0f}× |")

        print("\nTraining input pipeline (batch of 16 crops of 64 frames), loading in the "
              "training process:\n")  # fmt: skip
        print("| data | load a batch | train step | load / step |")
        print("|---|---|---|---|")
        figures = {}
        for option in ("speech_synth", "speech_wav"):
            load, step = pipeline(option, root, 8)
            figures[option] = {"load_s": load, "step_s": step}
            print(f"| {option} | {load * 1000:.0f} ms | {step * 1000:.0f} ms | {load / step:.2f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nPeak resident memory of this process: {peak:.0f} MiB.")
    write_json(args.json, {"machine": machine(), "rtf": rtf, "pipeline": figures, "peak_mib": peak})


if __name__ == "__main__":
    main()
