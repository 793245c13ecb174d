"""The installed package stands alone: nothing under trnmon/ imports the test tree, and
`trnmon bench core` (which times the shipped reference model) runs from a copy of the
package with no tests/ directory anywhere on the path."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import trnmon

PACKAGE = Path(trnmon.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):  # function-local imports too
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_under_trnmon_imports_tests() -> None:
    offenders = {str(p.relative_to(PACKAGE)): sorted(n for n in _imports(p)
                                                     if n.split(".")[0] == "tests")
                 for p in PACKAGE.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.slow  # builds and ticks a 4,096-chip fleet under the scalar reference
def test_bench_core_runs_without_the_test_tree(tmp_path: Path) -> None:
    shutil.copytree(PACKAGE, tmp_path / "trnmon",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "trnmon", "bench", "core", "--json", "--chips", "256",
         "--repeat", "3"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300, check=True)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["bench"] for r in rows} == {"core.tick", "core.reference"}
    ref = next(r for r in rows if r["bench"] == "core.reference")
    assert ref["median_ms"] > ref["fast_ms"] > 0
    assert "tests" not in out.stderr
