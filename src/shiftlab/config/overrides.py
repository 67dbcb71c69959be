"""Writing Hydra overrides from Python values."""

from __future__ import annotations


def quoted(value: str) -> str:
    """``value`` as a quoted Hydra override value: any path or text, taken literally."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
