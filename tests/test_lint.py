"""The code stays ruff clean (lint and format), as the developers' guide asks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def ruff() -> str:
    local = Path(sys.executable).with_name("ruff")
    return str(local) if local.exists() else (shutil.which("ruff") or "ruff")


def test_ruff_check_passes():
    proc = subprocess.run(
        [ruff(), "check", "src", "tests", "bench"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_is_clean():
    proc = subprocess.run(
        [ruff(), "format", "--check", "src", "tests", "bench"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
