"""Compile a C source beside this package into a shared library at first use, cache it, load it.

The TSConv kernels (:mod:`shiftlab.models.shift_kernel`, :mod:`shiftlab.models.fused_tsconv`)
and the uint8 batch normalisation (:mod:`shiftlab.data.native_normalize`) are plain C loaded
with ctypes: no Python or torch headers, so the system's C compiler builds
them in about a second where ``torch.utils.cpp_extension`` would take a minute. Libraries go to
``~/.cache/shiftlab/kernels`` (``SHIFTLAB_CACHE_DIR`` moves it) under a name that hashes the
source, the flags, the compiler and, for flags that tune to this CPU, the CPU itself, so a
cache directory shared between machines never hands one a library built for another. Builds
are atomic (parallel test workers may race for the same file).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from shiftlab.machine import cache_home


class NativeBuildError(RuntimeError):
    """A library could not be built or loaded; the message says why (for logs and status)."""

    def __init__(self, message: str, no_compiler: bool = False) -> None:
        super().__init__(message)
        self.no_compiler = no_compiler


def cache_dir() -> Path:
    return cache_home() / "kernels"


def find_compiler() -> str | None:
    """``$CC``, else ``cc``, ``gcc`` or ``clang``: the first on PATH."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def cpu_identity() -> str:
    """What a library built with ``-march=native`` depends on: the CPU's model and features."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.machine() + platform.processor()
    wanted = ("model name", "flags", "Features", "CPU part")
    lines = {line.split(":")[0].strip(): line for line in text.splitlines() if ":" in line}
    return platform.machine() + "".join(lines.get(key, "") for key in wanted)


def _compile(compiler: str, source: Path, target: Path, flags: list[str]) -> None:
    """With OpenMP where the compiler has it, else without (the same loops on one thread)."""
    result = None
    for extra in (["-fopenmp"], []):
        result = subprocess.run(
            [compiler, *flags, "-shared", "-fPIC", *extra, str(source), "-o", str(target)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode == 0:
            return
    assert result is not None
    raise NativeBuildError(f"{Path(compiler).name} failed: {result.stderr.strip()[:300]}")


def build_and_load(stem: str, source_text: str, flag_sets: list[list[str]]) -> ctypes.CDLL:
    """The library of ``source_text``, built with the first of ``flag_sets`` the compiler
    accepts (e.g. ``-march=native`` first, then without), cached under ``stem-<hash>.so``.

    Raises :class:`NativeBuildError` with the reason where no compiler exists or none of the
    flag sets builds.
    """
    compiler = find_compiler()
    if compiler is None:
        raise NativeBuildError("no C compiler (cc, gcc or clang) on PATH", no_compiler=True)
    errors = []
    for flags in flag_sets:
        tuned = any("native" in flag for flag in flags)
        key = source_text + " ".join(flags) + compiler + (cpu_identity() if tuned else "")
        target = cache_dir() / f"{stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.so"
        try:
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory(dir=target.parent) as work:
                    source = Path(work) / f"{stem}.c"
                    source.write_text(source_text)
                    built = Path(work) / target.name
                    _compile(compiler, source, built, flags)
                    os.replace(built, target)
            return ctypes.CDLL(str(target))
        except (OSError, subprocess.SubprocessError, NativeBuildError) as error:
            errors.append(str(error).strip()[:300])
    raise NativeBuildError("; ".join(errors))


class LazyLibrary:
    """A library built and loaded at first use, once per process (threads may race for it),
    with its functions declared by ``declare``; where it cannot be built, :meth:`get` returns
    None from then on, :attr:`reason` says why (``what`` names it in that sentence) and
    ``on_failure`` is told once."""

    def __init__(
        self,
        stem: str,
        source_text: str,
        flag_sets: list[list[str]],
        declare: Callable[[ctypes.CDLL], None],
        what: str,
        on_failure: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.stem, self.source_text, self.flag_sets = stem, source_text, flag_sets
        self.declare, self.what, self.on_failure = declare, what, on_failure
        self.library: ctypes.CDLL | None = None
        self.reason: str | None = None
        self._lock = threading.Lock()

    def get(self) -> ctypes.CDLL | None:
        if self.library is not None or self.reason is not None:
            return self.library
        with self._lock:
            if self.library is not None or self.reason is not None:
                return self.library
            try:
                library = build_and_load(self.stem, self.source_text, self.flag_sets)
            except NativeBuildError as error:
                self.reason = (
                    str(error) if error.no_compiler else f"building {self.what} failed: {error}"
                )
                self.on_failure(self.reason)
                return None
            self.declare(library)
            self.library = library
            return library

    def forget(self) -> None:
        """Build or load afresh at the next :meth:`get` (tests change the compiler or cache)."""
        with self._lock:
            self.library, self.reason = None, None
