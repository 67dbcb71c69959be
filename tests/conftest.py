"""Shared helpers: run the `shiftlab` command as a user types it, and read run directories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.warm_launches import FRESH_ONLY, WarmLauncher

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def shiftlab_executable() -> list[str]:
    """The installed `shiftlab` console script (what a user types), next to this Python."""
    script = Path(sys.executable).with_name("shiftlab")
    if script.exists():
        return [str(script)]
    found = shutil.which("shiftlab")
    return [found] if found else [sys.executable, "-m", "shiftlab"]


def run_shiftlab(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 600, check: bool = True
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    started = time.perf_counter()
    argv = [*shiftlab_executable(), *args]
    proc, fresh_because = None, "no console script (python -m shiftlab)"
    launcher = _warm_launcher()
    if launcher is None:
        fresh_because = f"{FRESH_ONLY} is set or no fork"
    elif len(argv) == 1 + len(args):
        fresh_because = launcher.fresh_because(full_env)
        if fresh_because is None:
            proc = launcher.run(argv, cwd=cwd, env=full_env, timeout=timeout)
            fresh_because = None if proc is not None else "the warm process refused it"
    if proc is None:
        proc = subprocess.run(
            argv, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
        )
    _note_launch(args, time.perf_counter() - started, fresh_because)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"shiftlab {' '.join(args)} exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-5000:]}\n--- stderr ---\n{proc.stderr[-5000:]}"
        )
    return proc


# Resolved once: a test may change the working directory.
LAUNCH_LOG = (
    Path(os.environ["SHIFTLAB_TEST_LAUNCHES"]).resolve()
    if os.environ.get("SHIFTLAB_TEST_LAUNCHES")
    else None
)


def _note_launch(args: tuple[str, ...], seconds: float, fresh_because: str | None) -> None:
    """With ``SHIFTLAB_TEST_LAUNCHES=<file>``, append one line per ``shiftlab`` a test starts
    (the test, the subcommand, the seconds it took, ``warm`` or why it started fresh): where
    the suite's time goes."""
    if LAUNCH_LOG is not None:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        how = fresh_because or "warm"
        with LAUNCH_LOG.open("a") as f:
            f.write(f"{test}\t{args[0] if args else ''}\t{seconds:.2f}\t{how}\n")


def run_without_torch(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run Python ``code`` with torch, torchvision and Lightning refused at import, as on a
    machine that serves an exported model without them; it must exit 0."""
    guard = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'lightning', 'torchvision'):\n"
        "            raise ImportError('refused: ' + name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
    )
    end = "\nprint('no torch:', 'torch' not in sys.modules)\n"
    proc = subprocess.run(
        [sys.executable, "-c", guard + code + end], cwd=cwd, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "no torch: True" in proc.stdout
    return proc


def only_run_dir(root: Path) -> Path:
    """The single run directory under ``root`` (outputs/<task_name>/runs/<time>/)."""
    runs = [p for p in root.glob("*/runs/*") if p.is_dir()]
    assert len(runs) == 1, f"expected one run directory under {root}, found {runs}"
    return runs[0]


def read_events(log_dir: Path):
    """TensorBoard's own reader over a run's event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def hparams_view(log_dir: Path) -> tuple[set[str], set[str]]:
    """The columns of TensorBoard's HParams view over ``log_dir``: (settings, metrics)."""
    experiment = hparams_experiment(log_dir)
    return {h.name for h in experiment.hparam_infos}, {m.name.tag for m in experiment.metric_infos}


def hparams_experiment(log_dir: Path):
    """The HParams experiment (settings and metrics, in the order TensorBoard lists them)
    that TensorBoard's own backend builds from every run under ``log_dir``, the way
    `tensorboard --logdir` shows it."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import backend_context

    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(log_dir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(log_dir))
    tb = base_plugin.TBContext(data_provider=provider, logdir=str(log_dir), multiplexer=multiplexer)
    backend = backend_context.Context(tb)
    request = context.RequestContext()
    metadata = backend.hparams_metadata(request, "")
    return backend.experiment_from_metadata(request, "", True, metadata, None)


# Tiny, fast settings for end-to-end runs of the default experiment.
TINY = [
    "data.num_train=24",
    "data.num_val=8",
    "data.num_test=8",
    "data.min_frames=8",
    "data.max_frames=24",
    "data.batch_size=8",
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
]


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, one torch thread per worker (inherited by every `shiftlab` the
    tests start): workers that each take every core run slower together than apart, as
    parallel sweep jobs do (see ``shiftlab.sweeps.threads``)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Each worker starts its warm launcher once collection has imported the test modules
    (OpenCV sets LD_LIBRARY_PATH as it loads), so that its imports run while the first
    tests do."""
    if os.environ.get("PYTEST_XDIST_WORKER") and session.items:
        _warm_launcher()


def pytest_unconfigure(config: pytest.Config) -> None:
    _stop_warm_launcher()


_WARM: list[WarmLauncher] = []


def _warm_launcher() -> WarmLauncher | None:
    """This process's warm launcher (tests/warm_launches.py), started at the first need and
    started again if this process's own environment has since changed a variable read at
    import (a library that sets one as it loads, a test that sets one)."""
    if os.environ.get(FRESH_ONLY) or not hasattr(os, "fork"):
        return None
    current = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if _WARM and _WARM[0].differs_at_import(current):
        _stop_warm_launcher()
    if not _WARM:
        _WARM.append(WarmLauncher(Path(tempfile.mkdtemp(prefix="shiftlab-warm-"))))
    return _WARM[0]


def _stop_warm_launcher() -> None:
    if _WARM:
        launcher = _WARM.pop()
        launcher.close()
        shutil.rmtree(launcher.folder, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the long runs first, so that parallel workers do not end waiting on one."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty launch directory (runs go to its outputs/)."""
    return tmp_path
