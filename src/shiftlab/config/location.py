"""Where the packaged Hydra configs live."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # src/shiftlab (or site-packages/shiftlab)


def config_dir() -> Path:
    """Return the directory holding ``train.yaml`` and the config groups.

    A wheel carries the configs inside the package (``shiftlab/conf``); a source checkout or
    an editable install reads the top-level ``conf/`` of the repository, so edits there take
    effect without reinstalling.
    """
    for candidate in (_PACKAGE_DIR / "conf", _PACKAGE_DIR.parents[1] / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"shiftlab cannot find its configs: neither {_PACKAGE_DIR / 'conf'} (installed wheel) "
        f"nor {_PACKAGE_DIR.parents[1] / 'conf'} (source checkout) holds train.yaml. "
        "Reinstall the package (pip install shiftlab, or pip install -e . in a checkout)."
    )
