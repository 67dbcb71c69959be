"""How a sweep's jobs find the tracker run that groups them: the launching process writes
``trackers.json`` into the sweep directory, each job reads it (the jobs may be other
processes or machines; the sweep directory is what they share)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LINK_FILE = "trackers.json"


def current_sweep_dir() -> Path | None:
    """This job's sweep directory in a Hydra multirun; None in a single run."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
    except (ImportError, ValueError):
        return None
    if hydra.mode != RunMode.MULTIRUN:
        return None
    return Path(hydra.sweep.dir)


def read_link(sweep_dir: Path | None, tracker: str) -> dict[str, Any] | None:
    """What the launching process recorded for ``tracker`` in ``sweep_dir`` (or None)."""
    if sweep_dir is None:
        return None
    path = sweep_dir / LINK_FILE
    try:
        return json.loads(path.read_text()).get(tracker)
    except (OSError, ValueError):
        return None


def write_link(sweep_dir: Path, tracker: str, record: dict[str, Any]) -> None:
    """Record ``tracker``'s parent for the jobs of ``sweep_dir``."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    path = sweep_dir / LINK_FILE
    try:
        links = json.loads(path.read_text())
    except (OSError, ValueError):
        links = {}
    links[tracker] = record
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(links, indent=2) + "\n")
    tmp.replace(path)


def run_label() -> str | None:
    """A run's name in a tracker: its run directory's time, or ``<sweep time> #<job>`` in a
    sweep (the names trackers draw at random repeat when every run seeds ``random`` alike)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
    except (ImportError, ValueError):
        return None
    try:
        if hydra.mode == RunMode.MULTIRUN:
            return f"{Path(hydra.sweep.dir).name} #{hydra.job.num}"
        return Path(hydra.runtime.output_dir).name
    except Exception:  # composed without a run (notebooks, tests): the tracker names it
        return None
