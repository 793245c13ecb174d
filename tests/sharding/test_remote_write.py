"""The remote-write tier with real processes: two sharded daemons, one Prometheus agent per
shard (`--enable-feature=agent`) remote-writing to a central Prometheus
(`--web.enable-remote-write-receiver`) that evaluates the shipped rules, beside an
unsharded daemon with the same config and seed. The receiver's totals equal the unsharded
daemon's, a killed shard shows as down, `neuron-top --prometheus URL --once` reads it, and
each agent's write load (samples/s) is measured from its own counters.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest_prometheus import Prometheus
from trnmon.dashboards.federation import agent_prometheus_config, receiver_prometheus_config

ROOT = Path(__file__).resolve().parents[2]
RULES = tuple(str(ROOT / "dashboards" / "prometheus" / f)
              for f in ("recording.yml", "node-rules.yml"))
ENV = {"TRNMON_CELL_RACKS": "2"}  # ohio: 16 racks -> 8 cells
ARGS = ("--speed", "0.001")  # every daemon stays at tick 1: "the same time" is exact
# 2 s, not 1 s: on a shared 2-core machine an agent cannot scrape ~40k series every second,
# and a growing remote-write backlog would delay the dead shard's `up == 0`.
INTERVAL_S = 2
INTERVAL = f"{INTERVAL_S}s"
SENT = re.compile(r"^prometheus_remote_storage_samples_total\{[^}]*\} (\S+)$", re.M)


def _value(result: list[dict[str, Any]]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def _sent(agent: Any) -> float:
    with urllib.request.urlopen(agent.url + "/metrics", timeout=5) as r:
        return sum(float(v) for v in SENT.findall(r.read().decode()))


@pytest.mark.slow
def test_agents_write_the_whole_fleet_to_the_receiver(
        daemon_factory: Any, prometheus_factory: Any, tmp_path: Path) -> None:
    whole = daemon_factory(*ARGS, preset="ohio", env=ENV, state_dir=tmp_path / "whole")
    shards = [daemon_factory(*ARGS, "--shard", f"{i}/2", preset="ohio", env=ENV,
                             state_dir=tmp_path / f"shard{i}") for i in (1, 2)]
    sd = [{g["labels"]["instance"] for g in d.get_json("/sd")} for d in shards]

    # Started here, not by prometheus_factory: the flags go in before start().
    receiver = Prometheus(tmp_path / "receiver", "", config=receiver_prometheus_config(
        interval=INTERVAL, rule_files=RULES))  # type: ignore[arg-type]
    receiver.extra_args = ["--web.enable-remote-write-receiver"]
    receiver.start()
    agents = []
    try:
        for i, d in enumerate(shards, 1):
            a = Prometheus(tmp_path / f"agent{i}", "", config=agent_prometheus_config(
                sd_url=d.url + "/sd", shard=str(i), daemon_target=f"127.0.0.1:{d.port}",
                remote_write_url=receiver.url + "/api/v1/write",
                interval=INTERVAL))  # type: ignore[arg-type]
            a.extra_args = ["--enable-feature=agent"]
            agents.append(a.start())

        want = whole.get_json("/api/v1/summary")["totals"]
        receiver.wait_for('count(up{job="trnmon-nodes"} == 1)',
                          lambda r: bool(r) and _value(r) == want["nodes"], timeout=60)
        receiver.wait_for("sum(instance_id:neuron_device:count)",
                          lambda r: bool(r) and _value(r) == want["chips"], timeout=60)
        for promql, key in (("sum(instance_id:neuron_device_power_watts:sum)", "power_watts"),
                            ("sum(instance_id:neuron_device_hbm_used_bytes:sum)",
                             "hbm_used_bytes"),
                            ("sum(instance_id:neuron_device_busy:count)", "busy_chips")):
            receiver.wait_for(promql, lambda r, k=key: bool(r) and math.isclose(
                _value(r), want[k], rel_tol=1e-6, abs_tol=1e-6), timeout=30)
        for i, ids in enumerate(sd, 1):
            assert _value(receiver.query(
                f'count(up{{job="trnmon-nodes",shard="{i}"}})')) == len(ids)

        # Write load per shard: samples sent over 10 s at this test's scrape interval.
        before = [(_sent(a), time.monotonic()) for a in agents]
        time.sleep(10)
        rates = [(_sent(a) - s0) / (time.monotonic() - t0)
                 for a, (s0, t0) in zip(agents, before, strict=True)]
        series = [_value(receiver.query(f'count({{shard="{i}"}})')) for i in (1, 2)]
        print(f"remote-write samples/s per shard at {INTERVAL} scrapes:",
              [round(r) for r in rates], "series per shard:", series,
              "=> samples/s at 15 s:", [round(s / 15) for s in series])
        for r, s in zip(rates, series, strict=True):
            # One sample per series per scrape, less when this shared machine falls behind.
            assert 0.3 * s / INTERVAL_S < r < 1.2 * s / INTERVAL_S

        # neuron-top against the receiver, as a user runs it.
        out = subprocess.run([sys.executable, "-m", "trnmon.cli.neuron_top", "--prometheus",
                              receiver.url, "--once"], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        assert f"{want['nodes']}" in out.stdout and f"{want['chips']}" in out.stdout

        # Kill shard 1's daemon: its agent reports its nodes down to the receiver.
        shards[0].kill()
        receiver.wait_for('count(up{job="trnmon-nodes"} == 0)',
                          lambda r: bool(r) and _value(r) == len(sd[0]), timeout=30)
        assert _value(receiver.query(
            'count(up{job="trnmon-nodes",shard="2"} == 1)')) == len(sd[1])
    finally:
        for a in agents:
            a.stop()
        receiver.stop()
