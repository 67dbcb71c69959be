"""Package attributes that import their module when first named (PEP 562).

``shiftlab.data`` and ``shiftlab.tasks`` name Lightning modules, and importing Lightning
takes seconds; with these, ``shiftlab.data.SpectrogramSynth`` imports its module on first
use, and a script that needs only a reader, a synthesiser or the task registry pays for
nothing else.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_attributes(
    package: str, modules: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose attribute ``name`` lives in its
    submodule ``modules[name]``."""

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted([*vars(sys.modules[package]), *modules])

    return __getattr__, __dir__
