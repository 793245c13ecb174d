"""`trnmon bench cost` prints one JSON line per meter backend with the figures it names."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow  # runs two simulated days of a fleet per backend
def test_bench_cost_lines() -> None:
    proc = subprocess.run([sys.executable, "-m", "trnmon", "bench", "cost", "--json",
                           "--preset", "tiny", "--repeat", "1"], capture_output=True,
                          text=True, timeout=300, check=True)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["bench"], r["preset"], r["backend"]) for r in rows] == [
        ("cost", "tiny", "numba"), ("cost", "tiny", "numpy")]
    for r in rows:
        assert r["ticks"] == 1440 and r["tick_s"] == 60.0
        assert 0 < r["us_per_tick"] < r["tick_us"]
        assert r["share"] == pytest.approx(r["us_per_tick"] / r["tick_us"], abs=1e-3)
