"""trnmon.daemon's modules import each other without cycles, counting imports anywhere in a
module (inside functions too), and none hides an import inside a function."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "trnmon" / "daemon"


def imports(path: Path) -> tuple[set[str], list[str]]:
    """(trnmon.daemon modules imported anywhere, function-local imports as text)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    local: list[str] = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local += [ast.unparse(n) for n in ast.walk(fn)
                      if isinstance(n, (ast.Import, ast.ImportFrom))]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "trnmon.daemon":
                found |= {f"trnmon.daemon.{a.name}" for a in node.names}
            elif node.module.startswith("trnmon.daemon."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("trnmon.daemon.")}
    return found, local


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo += graph.get(node, set())
    return False


def test_no_cycles_and_no_function_local_imports() -> None:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        name = f"trnmon.daemon.{path.stem}"
        found, local = imports(path)
        assert not local, (name, local)
        graph[name] = found - {name}
    assert len(graph) >= 15
    order = list(graphlib.TopologicalSorter(graph).static_order())  # CycleError if any
    assert len(order) >= len(graph)
    # The old cycle's members now depend one way: app -> routes -> state.
    assert "trnmon.daemon.routes" in graph["trnmon.daemon.app"]
    assert not reaches(graph, "trnmon.daemon.routes", "trnmon.daemon.app")
    assert not reaches(graph, "trnmon.daemon.routes_control", "trnmon.daemon.routes")
