"""What every benchmark shares: the machine's description, interleaved rounds, and figures
written as median with spread, so each script reports ratios measured within one run."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIFTLAB = Path(sys.executable).with_name("shiftlab")


def machine() -> str:
    """CPU model, cores, memory, Python, torch (when imported) and GPU, in one line."""
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores{memory}", f"Python {platform.python_version()}"]
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}")
    return "; ".join(parts)


def compose_train(overrides: list[str]):
    """The config ``shiftlab train OVERRIDES`` runs, with Hydra's runtime (the options
    chosen in each group) set as in a run, and no ``hydra`` node in the job's config.

    Without Hydra's launch there is no run directory, so unless the overrides name one
    (``paths.output_dir=...``) a fresh temporary one stands in: files a run writes there
    (a data option's ``splits.csv``) would otherwise land in a folder called ``None``."""
    import tempfile

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    import shiftlab

    if not any(o.startswith("paths.output_dir=") for o in overrides):
        overrides = [*overrides, f"paths.output_dir={tempfile.mkdtemp(prefix='shiftlab-bench-')}"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(shiftlab.config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return cfg


def interleaved(variants: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run every variant once per round, in turn: a slow spell of the machine hits them all."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for number in range(rounds):
        for name, run in variants.items():
            samples[name].append(run())
            print(f"  round {number + 1}/{rounds} {name}: {samples[name][-1]:.4g}", flush=True)
    return samples


def median_spread(values: Sequence[float]) -> tuple[float, float, float]:
    """Median, lowest and highest value."""
    return statistics.median(values), min(values), max(values)


def ratio_figure(numerator: Sequence[float], denominator: Sequence[float]) -> str:
    """The per-round ratios as ``median (min–max)``: both variants ran in the same round."""
    ratios = [a / b for a, b in zip(numerator, denominator, strict=True)]
    mid, low, high = median_spread(ratios)
    return f"{mid:.3f} ({low:.3f}–{high:.3f})"


def best_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The ratio of the fastest rounds: noise on a shared machine only ever adds time."""
    return min(numerator) / min(denominator)


def write_json(path: str | None, payload: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=2))


def run_quiet(cmd: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure show its output, since a benchmark of a failure is no figure."""
    proc = subprocess.run(list(cmd), capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"{' '.join(map(str, cmd))} failed with exit code {proc.returncode}")
    return proc
