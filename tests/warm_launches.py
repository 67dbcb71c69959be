"""Start the `shiftlab` commands the tests run from a process that has done their imports.

Every `shiftlab train`, `eval`, `predict` or `export` spends 4-5 s importing torch, Lightning
and torchmetrics before its first line of work, and the suite starts about 170 of them: a
third of its time. A warm process (one per pytest-xdist worker, started once the worker has
collected its tests) imports them once and forks a child per command. The child is a process
of its own that runs the installed console script as ``python <script> <args>`` would: the
script's code as ``__main__``, ``sys.argv``, the working directory, the environment, a fresh
interpreter's signal handlers, stdout and stderr (files the caller reads back, each starting
with what the imports printed), the exit status (a signal's as ``-N``), non-daemon threads
joined and ``atexit`` handlers run before it exits. Only the imports are shared, already done.

A command falls back to a fresh process (the caller's ``subprocess.run``) when the warm one is
not running, when the platform has no ``fork``, when the warm process holds threads (a fork
would copy their locks, not the threads), or when the command's environment changes a
variable read at import (``PYTHON*``, ``TORCH*``, ``OMP_*``, ...). ``SHIFTLAB_TEST_FRESH=1``
makes every command a fresh process. Tests about start-up itself (what ``--help`` imports,
the quick start, the servers and watchers a test signals) start their own processes.

Run as ``python warm_launches.py SOCKET``: import, listen on the Unix socket ``SOCKET``, and
serve one command per connection (a line of JSON in; the child's pid, then its exit status
out) until the socket file is removed or the parent (the pytest worker) exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

# What every run command imports before its first line of work, and the image libraries
# that every segmentation and classification run adds (0.9 s); the rest each imports itself.
PRELOADED = (
    "torch",
    "lightning",
    "hydra",
    "omegaconf",
    "torch.utils.tensorboard",
    "shiftlab.cli.main",
    "shiftlab.cli.errors",
    "shiftlab.run.training",
    "segmentation_models_pytorch",
    "timm",
    "albumentations",
)

# A changed value of one of these reaches a fresh process's imports, not a forked child's.
READ_AT_IMPORT = ("PYTHON", "TORCH", "PYTORCH", "OMP_", "MKL_", "KMP_", "GOMP", "CUDA", "LD_",
                  "NCCL", "MALLOC")  # fmt: skip

FRESH_ONLY = "SHIFTLAB_TEST_FRESH"


class WarmLauncher:
    """The caller's side: start the warm process, hand it commands, read back their results."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.socket_path = folder / "warm.sock"
        self.folder = folder
        self.start_env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
        self._count = 0
        self._process = subprocess.Popen(
            [sys.executable, __file__, str(self.socket_path)],
            stdin=subprocess.DEVNULL,
            stdout=open(folder / "warm.out", "w"),  # noqa: SIM115 (the child holds it)
            stderr=open(folder / "warm.log", "w"),  # noqa: SIM115
            env=self.start_env,
        )

    def serves(self, env: dict[str, str]) -> bool:
        """Whether a command with this environment can run warm."""
        return self.fresh_because(env) is None

    def differs_at_import(self, env: dict[str, str]) -> str | None:
        """A variable read at import whose value in ``env`` is not the warm process's."""
        for key in sorted(set(env) | set(self.start_env)):
            if key.startswith(READ_AT_IMPORT) and env.get(key) != self.start_env.get(key):
                return key
        return None

    def fresh_because(self, env: dict[str, str]) -> str | None:
        """Why a command with this environment must start a fresh process, or None (the
        suite's own ``SHIFTLAB_TEST_FRESH`` is for its caller to read)."""
        if not hasattr(os, "fork"):
            return "no fork on this platform"
        key = self.differs_at_import(env)
        if key:
            return f"{key} differs from the warm process's"
        if not self._ready():
            said = _read(self.folder / "warm.log").strip().splitlines()
            return f"the warm process is not running: {said[-1] if said else 'no reason given'}"
        return None

    def _ready(self, wait_s: float = 120.0) -> bool:
        """Wait for the warm process's socket (its imports take a few seconds)."""
        deadline = time.monotonic() + wait_s
        while not self.socket_path.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def run(
        self, argv: list[str], cwd: Path, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess | None:
        """Run ``argv`` (the console script and its arguments) warm; None if it could not
        start there (the caller then starts a fresh process)."""
        if not self._ready():
            return None
        self._count += 1
        out, err = (self.folder / f"{self._count}.{side}" for side in ("out", "err"))
        request = {"argv": argv, "cwd": str(cwd), "env": env, "stdout": str(out),
                   "stderr": str(err)}  # fmt: skip
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            try:
                conn.connect(str(self.socket_path))
                conn.sendall(json.dumps(request).encode() + b"\n")
                replies = conn.makefile("r")
                pid = int(json.loads(replies.readline())["pid"])
            except (OSError, ValueError, KeyError):
                return None
            conn.settimeout(timeout)
            try:
                line = replies.readline()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(argv, timeout, _read(out), _read(err)) from None
        if not line:
            raise RuntimeError(f"the warm launcher lost the command {argv}: see {self.folder}")
        returncode = int(json.loads(line)["returncode"])
        stdout, stderr = _read(out), _read(err)
        out.unlink(missing_ok=True)
        err.unlink(missing_ok=True)
        return subprocess.CompletedProcess(argv, returncode, stdout, stderr)

    def close(self) -> None:
        self.socket_path.unlink(missing_ok=True)
        self._process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=10)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


# --- the warm process ---------------------------------------------------------------------

_IMPORT_OUTPUT: dict[int, bytes] = {}  # what the imports wrote to stdout (1) and stderr (2)


def _serve(socket_path: str) -> None:
    import importlib

    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # a command's own script folder takes its place in the child
    for name in PRELOADED:
        importlib.import_module(name)
    # what the imports printed (a library's warning), which a fresh process would print too
    _flush()
    folder = Path(socket_path).parent
    _IMPORT_OUTPUT.update({1: (folder / "warm.out").read_bytes(),
                           2: (folder / "warm.log").read_bytes()})  # fmt: skip
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
    if threads != 1:
        print(
            f"{threads} threads after the imports (OMP_NUM_THREADS unset?): a fork would copy "
            "their locks, not them",
            file=sys.stderr,
        )
        return
    parent = os.getppid()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the runners' waiters reap themselves
    partial = socket_path + ".partial"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(partial)
        listener.listen(16)
        listener.settimeout(1.0)
        os.rename(partial, socket_path)  # ready only once listening
        while os.path.exists(socket_path) and os.getppid() == parent:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            _flush()
            if os.fork() == 0:
                listener.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _wait_for_command(conn)
            conn.close()


def _wait_for_command(conn: socket.socket) -> None:
    """In a child of the warm process: fork the command, report its pid and exit status."""
    code = 1
    try:
        request = json.loads(conn.makefile("r").readline())
        pid = os.fork()
        if pid == 0:
            conn.close()
            _run_command(request)
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        returncode = os.waitstatus_to_exitcode(status)
        conn.sendall(json.dumps({"returncode": returncode}).encode() + b"\n")
        code = 0
    finally:
        os._exit(code)


def _run_command(request: dict) -> None:
    """In the command's own process: what ``python <script> <args>`` does after its imports."""
    import atexit
    import runpy
    import threading

    code = 1
    try:
        os.setsid()  # a timeout kills the command and whatever it started
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        written = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        streams = ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], written),
                   (2, request["stderr"], written))  # fmt: skip
        for fd, name, mode in streams:
            opened = os.open(name, mode, 0o644)
            os.dup2(opened, fd)
            os.close(opened)
            if _IMPORT_OUTPUT.get(fd):
                os.write(fd, _IMPORT_OUTPUT[fd])
        # the handlers a fresh interpreter starts with
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        for sig in (signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        if "numpy" in sys.modules:  # a fresh process seeds its global generator itself
            sys.modules["numpy"].random.seed()
        script = request["argv"][0]
        sys.argv = list(request["argv"])
        sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
        try:
            runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as stop:
            if stop.code is None or isinstance(stop.code, int):
                code = stop.code or 0
            else:
                print(stop.code, file=sys.stderr)
                code = 1
        except KeyboardInterrupt:  # as the interpreter ends: by the signal itself
            sys.excepthook(*sys.exc_info())
            _flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        except BaseException:
            sys.excepthook(*sys.exc_info())
            code = 1
        threading._shutdown()  # what the interpreter does at exit: join non-daemon threads
        atexit._run_exitfuncs()
    finally:
        _flush()
        os._exit(code)


def _flush() -> None:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    _serve(sys.argv[1])
