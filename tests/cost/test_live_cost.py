"""A live daemon's cost counters grow at the configured $/h per instance it prices."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

PRICES = {"trn2u.48xlarge": 36.0, "trn1.32xlarge": 18.0, "inf2.48xlarge": 9.0}
FAMILY_RATE = {"trn2": 4 * 36.0, "trn1": 18.0, "inf2": 9.0}  # the tiny fleet's nodes
SAMPLE = re.compile(r'^([a-z_]+)\{(.*)\} (\S+)$')


def _samples(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and m.group(1) == name:
            out[m.group(2)] = float(m.group(3))
    return out


def _paused_read(d: Any) -> tuple[float, dict[str, float], dict[str, float], dict[str, float]]:
    """Pause, let the last tick publish, then read one consistent snapshot's numbers."""
    assert d.request("POST", "/api/v1/control/pause", token=True)[0] == 200
    time.sleep(0.5)
    before = d.get_json("/api/v1/control")
    fleet = d.request("GET", "/metrics")[2].decode()
    jobs: dict[str, float] = {}
    per_hour: dict[str, float] = {}
    for node in d.get_json("/api/v1/topology")["nodes"]:
        status, _, body = d.request("GET", f"/metrics/nodes/{node['instance_id']}")
        if status == 200:
            text = body.decode()
            jobs.update(_samples(text, "neuron_job_cost_dollars_total"))
            per_hour.update(_samples(text, "neuron_job_cost_dollars_per_hour"))
    after = d.get_json("/api/v1/control")
    assert before["tick"] == after["tick"] and after["paused"]
    return float(after["t"]), _samples(fleet, "neuron_fleet_capacity_cost_dollars_total"), \
        jobs, per_hour


@pytest.mark.slow
def test_cost_counters_grow_at_the_configured_rate(daemon_factory: Any,
                                                   tmp_path: Path) -> None:
    cfg = tmp_path / "fleet.toml"
    cfg.write_text("[pricing]\non_demand = {"
                   + ", ".join(f'"{k}" = {v}' for k, v in PRICES.items()) + "}\n")
    d = daemon_factory("--config", str(cfg), "--speed", "30")
    d.wait_tick(3)
    t0, fleet0, jobs0, rate0 = _paused_read(d)
    assert d.request("POST", "/api/v1/control/resume", token=True)[0] == 200
    d.wait_tick(d.tick() + 60, timeout=30)
    t1, fleet1, jobs1, rate1 = _paused_read(d)
    dt = t1 - t0
    assert dt >= 60
    # Every instance-second of the fleet is priced exactly once, whatever its state.
    for fam, rate in FAMILY_RATE.items():
        grown = sum(v - fleet0.get(k, 0.0) for k, v in fleet1.items()
                    if f'instance_family="{fam}"' in k)
        assert grown == pytest.approx(rate * dt / 3600, rel=1e-9), fam
    # A job that held the same instances throughout paid their hourly price for dt.
    steady = [k for k in jobs1 if k in jobs0 and rate0.get(k) == rate1.get(k)
              and rate1.get(k, 0) > 0]
    assert steady, (jobs0, jobs1)
    for k in steady:
        assert rate1[k] in {n * p for p in PRICES.values() for n in (1, 2, 3, 4)}
        assert jobs1[k] - jobs0[k] == pytest.approx(rate1[k] * dt / 3600, rel=1e-6), k
