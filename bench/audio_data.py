"""Labelled audio from disk (``data=audio_csv``): clips per second and peak memory as the
corpus grows, so that a hundred thousand recordings cost what a hundred do per item.

    .venv/bin/python bench/audio_data.py                    # 300 and 6000 notes, ~15 seconds
    .venv/bin/python bench/audio_data.py --sizes 300 30000

Each size gets a folder of 0.5 s notes (synthetic, 16 kHz wav) and a CSV of their pitch, and
a fresh process that sets the data module up (the CSV read and every file's header checked,
as at launch) and loads one training epoch (random crops, pitch per frame) in batches of 16.
Reported: set-up time per file, clips per second, and the process's peak resident memory
beside that of the same process before the data (imports only): what the data adds must
not grow with the corpus, beyond its file list.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import machine, write_json

WORKER = r"""
import json, resource, sys, time
import lightning, torch  # imported before the baseline is read: what the data adds is measured
from shiftlab.data.audio_modules import AudioCSV
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
root = sys.argv[1]
started = time.perf_counter()
data = AudioCSV(root=root, csv_path=root + "/labels.csv", target_columns=["f0"], clip_seconds=0.25,
                val_fraction=0.05, test_fraction=0.05, batch_size=16, num_workers=0)
data.setup()
setup_s = time.perf_counter() - started
clips, started = 0, time.perf_counter()
for batch in data.train_dataloader():
    clips += batch["audio"].shape[0]
load_s = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"files": len(data.files), "setup_ms_per_file": 1e3 * setup_s / len(data.files),
                  "clips_per_s": clips / load_s, "baseline_mib": before, "peak_mib": peak}))
"""


def write_corpus(folder: Path, count: int) -> None:
    import soundfile

    from shiftlab.data.synthetic_tones import ToneSynthesis

    folder.mkdir(parents=True)
    synthesis = ToneSynthesis(seconds=0.5)
    notes = [synthesis.note(5, i) for i in range(64)]  # written again under many names
    rows = ["file,f0"]
    for i in range(count):
        note = notes[i % len(notes)]
        soundfile.write(folder / f"note{i:06d}.wav", note.samples, 16_000, subtype="PCM_16")
        rows.append(f"note{i:06d}.wav,{note.f0:.3f}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")


def measure(folder: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", WORKER, str(folder)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 6000])
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            folder = Path(tmp, f"notes{size}")
            write_corpus(folder, size)
            results.append(measure(folder))
            print(f"  {size} files: {results[-1]}", flush=True)
    print(machine())
    print("| files | set-up (ms per file) | clips per second | peak memory (MiB) | "
          "of which the data (MiB) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['files']} | {r['setup_ms_per_file']:.2f} | {r['clips_per_s']:.0f} | "
              f"{r['peak_mib']:.0f} | {r['peak_mib'] - r['baseline_mib']:.0f} |")  # fmt: skip
    write_json(args.json, {"machine": machine(), "results": results})


if __name__ == "__main__":
    main()
