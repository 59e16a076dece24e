"""The package's layers: each subpackage imports only the ones below it, no module imports in a
circle, and imports sit at the top of modules except at the command-line edge.

Read from the source (the import statements), plus one fresh interpreter that imports every
module: importing ``gplvm`` as a library must change no environment variable.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# Bottom to top: a module may import its own layer and those before it.
LAYERS = ("errors", "config", "data", "model", "inference", "evaluate", "plots", "run", "cli")
# Imports inside functions outside gplvm.cli, each deferring a heavy dependency for start-up time:
# (module, imported module).
DEFERRED = {
    ("gplvm.model.expectations.rbf", "gplvm.model.psi_ops"),  # numba, only for the Bayesian GPLVM
    ("gplvm.plots.worker", "gplvm.plots.figures"),  # matplotlib: the plot process overlaps its import
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted((SRC / "gplvm").rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__root__"


def imports(module: str) -> list[tuple[str, bool]]:
    """(imported gplvm module, inside a function?) for every import statement of ``module``."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                found.extend((a.name, inner) for a in child.names if a.name.startswith("gplvm"))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                if base.startswith("gplvm"):
                    for alias in child.names:
                        target = f"{base}.{alias.name}"
                        found.append((target if target in MODULES else base, inner))
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return found


GRAPH = {m: imports(m) for m in MODULES}


def test_every_subpackage_has_a_layer():
    assert {layer(m) for m in MODULES} - {"__root__", "__main__"} <= set(LAYERS)


@pytest.mark.parametrize("module", [m for m in MODULES if layer(m) not in {"__root__", "__main__"}])
def test_a_module_imports_only_its_own_layer_and_those_below(module):
    rank = LAYERS.index(layer(module))
    upward = [t for t, _ in GRAPH[module] if layer(t) in LAYERS and LAYERS.index(layer(t)) > rank]
    assert not upward, f"{module} imports from a higher layer: {upward}"


def test_no_import_inside_a_function_outside_the_command_line():
    inner = {
        (m, t) for m, edges in GRAPH.items() for t, nested in edges if nested and layer(m) not in {"cli"}
    }
    assert inner <= DEFERRED, f"imports inside functions: {sorted(inner - DEFERRED)}"


def test_the_module_import_graph_has_no_cycle():
    edges = {m: {t for t, nested in GRAPH[m] if not nested and t != m} for m in MODULES}
    state: dict[str, int] = {}

    def walk(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                cycle = [*path[path.index(t) :], t] if t in path else [m, t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                walk(t, [*path, t])
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            walk(m, [m])


def third_party_imports() -> set[str]:
    """The top-level packages that the library imports (they may set variables of their own)."""
    roots = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                roots.add(node.module.split(".")[0])
    return {r for r in roots - {"gplvm", "__future__"} if r not in sys.stdlib_module_names}


def test_importing_every_module_in_a_fresh_interpreter_changes_no_environment_variable():
    library = [m for m in MODULES if layer(m) not in {"cli", "__main__"}]
    code = (
        "import importlib, json, os, sys\n"
        f"for m in {sorted(third_party_imports())!r}: importlib.import_module(m)\n"
        "before = dict(os.environ)\n"
        f"for m in {library!r}: importlib.import_module(m)\n"
        "after = dict(os.environ)\n"
        "changed = {k: after.get(k) for k in set(before) | set(after) if before.get(k) != after.get(k)}\n"
        "print(json.dumps(changed))\n"
    )
    # Unset the thread variables that make exports, so that a setdefault would show.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}
