"""The package's rooms import downwards only: no import circle between modules, and no
import that runs back up from a lower room to a higher one (a data reader reaching into
sweeps, the inference room into the training body). Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "src" / "shiftlab"

# Each room and the rooms it may import, lowest first. "shiftlab" is the package itself
# (its version and config_dir); "errors", "machine", "lazy", "native_build" and the others
# without a folder are modules at its root.
LAYERS: dict[str, set[str]] = {
    "errors": set(),
    "machine": set(),
    "lazy": set(),
    "liveness": set(),
    "spectral_scales": set(),
    "pitch_bins": set(),
    "native_build": {"machine"},
    "config": {"errors"},
    "shiftlab": {"config"},
    "visuals": set(),
    "models": {"errors", "native_build"},
    "data": {"errors", "machine", "lazy", "spectral_scales", "config", "native_build"},
    "tasks": {
        "shiftlab",
        "errors",
        "lazy",
        "spectral_scales",
        "pitch_bins",
        "config",
        "data",
        "visuals",
    },
    "callbacks": set(),
    "events": {"errors"},
    "sweeps": {"errors", "machine", "liveness", "config", "tasks", "events"},
    "trackers": {"errors", "sweeps"},
    "run": {"shiftlab", "errors", "config", "tasks", "sweeps", "events"},
    "inference": {
        "errors",
        "spectral_scales",
        "pitch_bins",
        "config",
        "data",
        "tasks",
        "visuals",
        "run",
    },
    "serving": {"errors", "machine", "data", "inference"},
    "cli": {
        "shiftlab",
        "errors",
        "machine",
        "liveness",
        "config",
        "events",
        "run",
        "sweeps",
        "inference",
        "serving",
    },
    "__main__": {"cli"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports() -> dict[str, set[str]]:
    """Every shiftlab module and the shiftlab modules it imports (at any depth of its code)."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[: 1 - node.level or None], base])
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    found.add(target)
        graph[name] = found
    return graph


def test_every_room_is_in_the_layering_and_the_layering_has_no_circle():
    graph = imports()
    assert {room(m) for m in graph} == set(LAYERS)
    order = list(LAYERS)
    for name, allowed in LAYERS.items():
        below = set(order[: order.index(name)])
        assert allowed <= below, f"{name} may import {allowed - below}, which come after it"


def test_imports_run_downwards_only():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in imports().items()
        for target in targets
        if room(target) != room(module) and room(target) not in LAYERS[room(module)]
    )
    assert not upward, "\n".join(upward)


def test_no_import_circle_between_modules():
    graph = imports()
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            assert state.get(target) != 1, " -> ".join([*path, module, target])
            if target not in state:
                visit(target, [*path, module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
