"""`trnmon bench tui --json` emits the contract lines (shape only: figures live in the
benchmark, not in timed tests)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow  # a headless app, keys and an idle window
def test_bench_tui_emits_key_and_idle_lines() -> None:
    r = subprocess.run([sys.executable, "-m", "trnmon", "bench", "tui", "--json",
                        "--preset", "ohio", "--repeat", "4", "--idle-seconds", "2"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    keys = {ln["action"]: ln for ln in lines if ln["bench"] == "tui.key"}
    assert set(keys) == {"filter", "group", "open_node", "back", "sort"}
    for ln in keys.values():
        assert ln["preset"] == "ohio" and 0 < ln["median_ms"] <= ln["max_ms"]
    idle = [ln for ln in lines if ln["bench"] == "tui.idle"]
    assert len(idle) == 1 and idle[0]["preset"] == "ohio" and idle[0]["cpu_percent"] > 0
