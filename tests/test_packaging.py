"""A non-editable install carries its configs: build the wheel, install it, compose."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import CONF, REPO


def test_wheel_carries_the_configs_and_finds_them_when_installed(tmp_path: Path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wheel = next((tmp_path / "dist").glob("shiftlab-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for yaml_file in CONF.rglob("*.yaml"):
        assert f"shiftlab/conf/{yaml_file.relative_to(CONF).as_posix()}" in names
    # Hydra loads plugins only from the hydra_plugins namespace: the grid sweeper lives there
    assert "hydra_plugins/shiftlab_sweeper/grid_sweeper.py" in names
    assert "hydra_plugins/__init__.py" not in names  # a namespace shared with other plugins
    assert "shiftlab/models/time_shift.c" in names  # the native shift's source, built at first use

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import shiftlab; print(shiftlab.__file__, shiftlab.config_dir())"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert where[0].startswith(str(target)) and where[1] == str(target / "shiftlab" / "conf")
    out = subprocess.run(
        [sys.executable, "-m", "shiftlab", "train", "--cfg", "job", "model=conv_unet"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "block_conv: conv" in out
