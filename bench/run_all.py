"""Run every benchmark, print one table of figures against targets, and write the measured
tables into bench/RESULTS.md (between its ``results`` markers; the analysis around them is
written by hand).

    .venv/bin/python bench/run_all.py                  # all of them, ~25 minutes on 2 cores
    .venv/bin/python bench/run_all.py --only startup tsconv_layer --no-write

Each script runs in its own process (a clean start, nothing imported before it) and
interleaves its own variants; see each script's docstring for what it measures.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO, machine

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

# name -> (title, command line after `python bench/`)
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "overhead": ("1. Framework overhead: shiftlab against a hand-written loop", ["overhead.py"]),
    "profile_tsconv": ("1a. Profile: TSConv U-Net steps", ["profile_overhead.py", "tsconv_unet"]),
    "profile_smp": ("1b. Profile: SMP U-Net steps", ["profile_overhead.py", "smp_unet"]),
    "profile_cnn": ("1c. Profile: small CNN steps", ["profile_overhead.py", "small_cnn"]),
    "startup": ("2. Start-up", ["startup.py"]),
    "compile_step": ("2b. compile=default: compiled against eager steps", ["compile_step.py"]),
    "tsconv_layer": ("3. TSConv against the 3×3 convolution", ["tsconv_layer.py"]),
    "data_pipeline": ("4. Input pipelines", ["data_pipeline.py"]),
    "sweep_parallel": ("5. Sweeps: sequential against joblib", ["sweep_parallel.py"]),
    "speech": ("6. Speech enhancement: predict speed and input pipeline", ["speech.py"]),
    "audio_data": (
        "7. Labelled audio from disk: speed and memory by corpus size",
        ["audio_data.py"],
    ),
    "runs": ("8. shiftlab runs: listing 100 and 1,000 run directories", ["runs.py"]),
}


def run(name: str) -> tuple[str, float]:
    """The script's tables (its markdown lines and the lines just above them) and its time."""
    title, args = BENCHMARKS[name]
    print(f"== {title}: python bench/{' '.join(args)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(BENCH / args[0]), *args[1:]],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
        return f"`python bench/{' '.join(args)}` failed (exit {proc.returncode}).\n", seconds
    return tables(proc.stdout), seconds


def tables(stdout: str) -> str:
    """The markdown tables of a script's output, each after the (up to two) caption lines the
    script prints just above it and a blank line; progress lines are left out."""
    lines = stdout.splitlines()
    keep: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("|"):
            if i == 0 or not lines[i - 1].startswith("|"):  # a table starts: its caption
                captions = [c for c in lines[max(0, i - 2) : i] if c.strip()]
                captions = [c for c in captions if not c.startswith((" ", "|"))]  # not a row
                keep += ["", *captions, ""]
            keep.append(line)
    return "\n".join(keep).strip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    sections = [
        f"Measured {datetime.date.today().isoformat()} at commit `{commit or 'unknown'}` with "
        f"`.venv/bin/python bench/run_all.py{' --only ' + ' '.join(args.only) if args.only != list(BENCHMARKS) else ''}`.",  # noqa: E501
        f"Machine: {machine()}.",
    ]
    for name in args.only:
        body, seconds = run(name)
        title, command = BENCHMARKS[name]
        section = f"### {title}\n\n`python bench/{' '.join(command)}` ({seconds:.0f} s)\n\n{body}"
        print(section, flush=True)
        sections.append(section)
    try:
        import torch

        gpu = torch.cuda.is_available()
    except ImportError:
        gpu = False
    if not gpu:
        sections.append(
            "### 6. GPU\n\nNo GPU on this machine: the GPU figures (bf16, channels-last, SMP "
            "U-Net at 512×512, share of peak) were not measured in this run."
        )
    if not args.no_write:
        write(RESULTS, "\n\n".join(sections) + "\n")
        print(f"wrote {RESULTS.relative_to(REPO)}")


def write(path: Path, generated: str) -> None:
    """Replace what lies between the markers; keep the hand-written analysis around it."""
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{generated}{END}{tail}")


if __name__ == "__main__":
    main()
