"""`trnmon soak`'s summary prices the run: cost by family and state, tokens per dollar."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import preset_config
from trnmon.hw.catalog import INSTANCE_TYPES
from trnmon.sim.cost import CAPACITY_STATES, node_rates
from trnmon.sim.soak import cost_table, soak
from trnmon.topology import build_topology

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_soak_summary_prices_every_node_day() -> None:
    cfg = preset_config("tiny", seed=3)
    summary = list(soak(cfg, days=1, tick=60.0))[-1]
    topo = build_topology(cfg)
    present = {INSTANCE_TYPES[int(t)].name for t in topo.node_type}
    bill = float(node_rates(cfg.pricing, only=present)[topo.node_type].sum()) * 24
    assert summary["currency"] == "USD"
    assert summary["cost_total"] == pytest.approx(bill, abs=0.01)
    by_state = summary["cost_by_state"]
    assert set(by_state) == {"trn2", "trn1", "inf2"}
    assert all(set(row) == {s.label for s in CAPACITY_STATES} for row in by_state.values())
    assert sum(sum(r.values()) for r in by_state.values()) == pytest.approx(bill, abs=0.1)
    assert all(v > 0 for v in summary["tokens_per_dollar_by_family"].values())
    table = cost_table(summary)
    assert table.count("\n") == 1 + len(by_state)


@pytest.mark.slow
def test_readme_soak_cost_table_is_real_output() -> None:
    proc = subprocess.run([sys.executable, "-m", "trnmon", "soak", "--preset", "ohio",
                           "--days", "2", "--json"], capture_output=True, text=True,
                          timeout=300, check=True)
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert cost_table(summary) in README
