"""The warm launcher runs a command as a fresh process would: same output, status, files.

The suite starts most `shiftlab` commands from a process that has already imported torch and
Lightning (tests/warm_launches.py). These tests hold it to what `subprocess.run` of the same
script gives: argv, working directory, environment, stdout and stderr, exit statuses (an
exception's, ``sys.exit``'s, a signal's), non-daemon threads and ``atexit`` handlers finished
before the exit, a timeout that kills the command, and the fall-back to a fresh process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import TINY, shiftlab_executable
from tests.warm_launches import WarmLauncher

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the warm launcher forks")

SCRIPT = """\
import atexit, os, signal, sys, threading, time
from pathlib import Path

print("handlers", [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGPIPE, signal.SIGTERM)])

print("name", __name__, "argv", sys.argv[1:], "cwd", os.getcwd())
print("env", os.environ.get("WARM_TEST_VALUE"), "path0", sys.path[0] == os.path.dirname(__file__))
print("to stderr", file=sys.stderr)
atexit.register(lambda: Path("atexit_ran").write_text("yes"))
def late():
    time.sleep(0.3)
    Path("thread_finished").write_text("yes")
threading.Thread(target=late).start()
action = sys.argv[1]
if action == "raise":
    raise ValueError("a bad value")
if action == "exit":
    sys.exit(int(sys.argv[2]))
if action == "message":
    sys.exit("stopped with a message")
if action == "kill":
    os.kill(os.getpid(), 9)
if action == "sleep":
    time.sleep(60)
"""


# One torch thread, as under pytest-xdist: a process that holds threads is not forked.
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def launcher():
    warm = WarmLauncher(Path(tempfile.mkdtemp(prefix="shiftlab-warm-test-")), env=ENV)
    yield warm
    warm.close()
    shutil.rmtree(warm.folder, ignore_errors=True)


def _both(launcher: WarmLauncher, tmp_path: Path, *args: str):
    """The script run warm and fresh, each in a working directory of its own."""
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    env = {**ENV, "WARM_TEST_VALUE": "from the caller"}
    results = {}
    for kind in ("warm", "fresh"):
        cwd = tmp_path / kind
        cwd.mkdir()
        argv = [str(script), *args]
        if kind == "warm":
            assert launcher.serves(env)
            proc = launcher.run(argv, cwd=cwd, env=env, timeout=60)
            assert proc is not None
        else:
            proc = subprocess.run([sys.executable, *argv], cwd=cwd, env=env,
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
        results[kind] = (proc, cwd)
    return results


@pytest.mark.parametrize(
    ("args", "returncode"),
    [(("ok",), 0), (("exit", "3"), 3), (("raise",), 1), (("message",), 1), (("kill",), -9)],
)
def test_a_warm_command_ends_as_a_fresh_one(launcher, tmp_path, args, returncode):
    results = _both(launcher, tmp_path, *args)
    (warm, warm_cwd), (fresh, fresh_cwd) = results["warm"], results["fresh"]
    assert warm.returncode == fresh.returncode == returncode
    assert warm.stdout.replace(str(warm_cwd), "CWD") == fresh.stdout.replace(str(fresh_cwd), "CWD")
    assert "name __main__" in warm.stdout and "env from the caller path0 True" in warm.stdout
    assert warm.stderr.startswith("to stderr")
    if args[0] == "raise":
        assert warm.stderr.rstrip().endswith("ValueError: a bad value")
    if args[0] == "message":
        assert warm.stderr.rstrip().endswith("stopped with a message")
    ended = returncode >= 0  # a killed process runs neither its threads nor its handlers
    for cwd in (warm_cwd, fresh_cwd):
        assert (cwd / "thread_finished").exists() == ended
        assert (cwd / "atexit_ran").exists() == ended


def test_what_the_imports_print_is_in_every_commands_output(tmp_path):
    """A warning a library prints as it loads reaches every command's stderr, as it would
    reach a fresh process's (the warm process prints it once, at its imports)."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\nprint('stdout at start-up')\nprint('a loud import', file=sys.stderr)\n"
    )
    env = {**ENV, "PYTHONPATH": str(tmp_path)}
    warm = WarmLauncher(tmp_path, env=env)
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    try:
        for _ in range(2):
            proc = warm.run([str(script), "ok"], cwd=tmp_path, env=env, timeout=60)
            assert proc is not None and proc.returncode == 0
            assert proc.stderr.startswith("a loud import\nto stderr")
            assert proc.stdout.startswith("stdout at start-up\nhandlers")
    finally:
        warm.close()


def test_a_command_past_its_timeout_is_killed(launcher, tmp_path):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    with pytest.raises(subprocess.TimeoutExpired) as raised:
        launcher.run([str(script), "sleep"], cwd=tmp_path, env=ENV, timeout=2)
    assert "to stderr" in raised.value.stderr
    # the launcher still serves after a killed command
    proc = launcher.run([str(script), "ok"], cwd=tmp_path, env=ENV, timeout=60)
    assert proc is not None and proc.returncode == 0


def test_a_variable_read_at_import_sends_the_command_to_a_fresh_process(launcher):
    assert launcher.serves({**ENV, "UNRELATED_SETTING": "1"})
    assert launcher.fresh_because({**ENV, "OMP_NUM_THREADS": "7"}) == (
        "OMP_NUM_THREADS differs from the warm process's"
    )
    assert not launcher.serves({**ENV, "PYTHONHASHSEED": "3"})


def test_a_process_with_threads_is_not_forked(tmp_path):
    """Without OMP_NUM_THREADS=1 torch starts its threads as it loads; the launcher says so
    and every command starts fresh."""
    env = {k: v for k, v in ENV.items() if k != "OMP_NUM_THREADS"}
    threaded = WarmLauncher(tmp_path, env=env)
    try:
        reason = threaded.fresh_because(env)
        assert reason and "threads after the imports" in reason
    finally:
        threaded.close()


def test_shiftlab_train_warm_and_fresh_give_the_same_metrics(launcher, tmp_path):
    """The same seeded run of the console script, from the warm launcher and fresh."""
    argv = [*shiftlab_executable(), "train", *TINY, "trainer.max_epochs=1"]
    assert len(shiftlab_executable()) == 1  # the console script, which the launcher runs
    printed = {}
    for kind in ("warm", "fresh"):
        cwd = tmp_path / kind
        cwd.mkdir()
        if kind == "warm":
            proc = launcher.run(argv, cwd=cwd, env=ENV, timeout=300)
            assert proc is not None
        else:
            proc = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True,
                                  timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        printed[kind] = [line for line in proc.stdout.splitlines() if line.startswith("test/")]
        assert list(cwd.glob("outputs/train/runs/*/checkpoints/*.ckpt"))
    assert printed["warm"] and printed["warm"] == printed["fresh"]
