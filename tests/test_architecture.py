"""The folders are the architecture: imports point one way, and nothing in promptloop imports the server.

Layers, lowest first.  A module may import its own layer and any layer below it, never one above:
apps (cli, service, playlist, evaluation) -> wiring -> session -> feedback -> synthesis ->
representation -> acquisition -> audio and the package's shared modules (errors, _version).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "promptloop"
SERVER = ("server", "promptloop_server")  # the repository's folder, and the name it installs under
RANKS = {
    "_version": 0, "errors": 0, "audio": 0,
    "acquisition": 1,
    "representation": 2,
    "synthesis": 3,
    "feedback": 4,
    "session": 5,
    "wiring": 6,
    "service": 7, "playlist": 7, "evaluation": 7,
    "cli": 8,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of import nodes inside ``if TYPE_CHECKING:`` blocks (annotations only, never run)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for child in node.body for n in ast.walk(child)}
    return out


def _imports(path: Path, module: str, *, annotations: bool = True) -> set[str]:
    """Every promptloop or server module ``path`` imports, at any depth (lazy imports count; those
    under ``if TYPE_CHECKING:`` count unless ``annotations`` is False)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skip = set() if annotations else _type_checking_only(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}
    return {f for f in found if f.split(".")[0] in ("promptloop", *SERVER)}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


MODULES = _modules()
EDGES = {m: {i for i in _imports(p, m) if i in MODULES or i.split(".")[0] in SERVER} for m, p in MODULES.items()}
RUNTIME_EDGES = {m: {i for i in _imports(p, m, annotations=False) if i in MODULES} for m, p in MODULES.items()}


def test_every_module_belongs_to_a_layer():
    loose = sorted(m for m in MODULES if m != "promptloop" and _layer(m) not in RANKS)
    assert loose == [], f"modules outside the layer folders: {loose}"


def test_nothing_in_promptloop_imports_the_server():
    offenders = sorted(f"{m} -> {i}" for m, deps in EDGES.items() for i in deps if i.split(".")[0] in SERVER)
    assert offenders == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "promptloop"))
def test_imports_point_down_the_layers(module):
    rank = RANKS[_layer(module)]  # type: ignore[index]
    upward = sorted(i for i in EDGES[module]
                    if i != "promptloop" and i.split(".")[0] == "promptloop" and RANKS.get(_layer(i) or "", 0) > rank)
    assert upward == [], f"{module} (layer {_layer(module)}) imports upward: {upward}"
    assert "promptloop" not in EDGES[module] or module == "promptloop", "only the package root may import the root"


def test_no_import_cycles():
    """Run-time imports form no cycle (annotation-only imports may point back within a layer)."""
    graph = {m: {d for d in deps if d != m and d != "promptloop"} for m, deps in RUNTIME_EDGES.items()
             if m != "promptloop"}
    # A package's __init__ that re-exports its own children is not a cycle of meaning: drop those edges.
    for m in graph:
        graph[m] = {d for d in graph[m] if not d.startswith(m + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            pytest.fail("import cycle: " + " -> ".join(cycle))
