"""Two sharded daemons, a Prometheus scraping each through its /sd, a global Prometheus
federating both, and an unsharded daemon with the same config and seed, all real
processes on loopback: the global layer is exactly the whole fleet, and a killed shard
shows as down in it and in `neuron-top --prometheus`.

Every daemon runs at --speed 0.001, so all of them sit at tick 1 (READY=1 follows the
first tick) for the whole test: "the same time" is exact.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from trnmon.dashboards.federation import global_prometheus_config, shard_prometheus_config
from trnmon.sources.prometheus import PrometheusSource

pytestmark = pytest.mark.slow  # starts shard daemons and federating Prometheus servers

ROOT = Path(__file__).resolve().parents[2]
RULES = tuple(str(ROOT / "dashboards" / "prometheus" / f)
              for f in ("recording.yml", "node-rules.yml"))
ENV = {"TRNMON_CELL_RACKS": "2"}  # ohio: 16 racks -> 8 cells
ARGS = ("--speed", "0.001")
INTERVAL = "1s"


def _value(result: list[dict[str, Any]]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


def test_global_view_is_the_whole_fleet_and_survives_a_dead_shard(
        daemon_factory: Any, prometheus_factory: Any, tmp_path: Path) -> None:
    whole = daemon_factory(*ARGS, preset="ohio", env=ENV, state_dir=tmp_path / "whole")
    shards = [daemon_factory(*ARGS, "--shard", f"{i}/2", preset="ohio", env=ENV,
                             state_dir=tmp_path / f"shard{i}") for i in (1, 2)]
    for d in (whole, *shards):
        assert d.tick() == 1

    # /sd: each shard lists only its own nodes; together exactly the fleet's.
    sd = [{g["labels"]["instance"]: g["labels"] for g in d.get_json("/sd")} for d in shards]
    full_sd = {g["labels"]["instance"]: g["labels"] for g in whole.get_json("/sd")}
    assert not set(sd[0]) & set(sd[1]) and sd[0] and sd[1]
    assert {**sd[0], **sd[1]} == full_sd

    proms = [prometheus_factory("", config=shard_prometheus_config(
        sd_url=d.url + "/sd", shard=str(i), daemon_target=f"127.0.0.1:{d.port}",
        interval=INTERVAL, rule_files=RULES)) for i, d in enumerate(shards, 1)]
    top = prometheus_factory("", config=global_prometheus_config(
        shard_targets=[f"127.0.0.1:{p.port}" for p in proms], interval=INTERVAL))

    want = whole.get_json("/api/v1/summary")["totals"]
    assert want["nodes"] == 48 and want["chips"] == 756
    top.wait_for('count(up{job="trnmon-nodes"} == 1)',
                 lambda r: bool(r) and _value(r) == want["nodes"], timeout=60)
    top.wait_for("sum(instance_id:neuron_device:count)",
                 lambda r: bool(r) and _value(r) == want["chips"], timeout=60)
    # Aggregates: evaluated per shard, federated, summed globally = the unsharded daemon.
    for promql, key in (("sum(instance_id:neuron_device_power_watts:sum)", "power_watts"),
                        ("sum(instance_id:neuron_device_hbm_used_bytes:sum)",
                         "hbm_used_bytes"),
                        ("sum(instance_id:neuron_device_hbm_total_bytes:sum)",
                         "hbm_total_bytes"),
                        ("sum(instance_id:neuron_device_busy:count)", "busy_chips")):
        top.wait_for(promql, lambda r, k=key: bool(r) and _close(_value(r), want[k]),
                     timeout=30)
    # The shard label says where each node lives.
    for i, ids in enumerate(sd, 1):
        assert _value(top.query(f'count(up{{job="trnmon-nodes",shard="{i}"}})')) == len(ids)

    # neuron-top --prometheus, driven directly: the same fleet.
    source = PrometheusSource(top.url)
    summary = source.poll()
    assert summary.totals.nodes == want["nodes"] and summary.totals.chips == want["chips"]
    assert summary.totals.nodes_up == want["nodes"]
    assert _close(summary.totals.power_watts, want["power_watts"])
    assert summary.heatmap.chips == want["chips"]
    assert {r.instance_id for r in summary.nodes} == set(full_sd)
    whole_jobs = {j["job_id"] for j in whole.get_json("/api/v1/jobs")["jobs"]}
    assert {j.job_id for j in summary.jobs} == whole_jobs
    detail = source.node_detail(0)
    assert detail is not None and detail.up and detail.devices
    assert any(d.power_watts > 0 for d in detail.devices)

    # Kill shard 1: its nodes go down in the global view; shard 2 keeps reporting.
    shards[0].kill()
    down = len(sd[0])
    top.wait_for('count(up{job="trnmon-nodes"} == 0)',
                 lambda r: bool(r) and _value(r) == down, timeout=30)
    assert _value(top.query('count(up{job="trnmon-nodes",shard="2"} == 1)')) == len(sd[1])
    time.sleep(2.5)  # two more scrape rounds: shard 2's series are still fresh
    alive = top.query('count(neuron_device_power_watts{shard="2"})')
    assert _value(alive) == sum(int(v["instance_type"] == "inf2.48xlarge") * 12
                                + int(v["instance_type"] != "inf2.48xlarge") * 16
                                for v in sd[1].values())
    summary = source.poll()
    rows = {r.instance_id: r for r in summary.nodes}
    assert {i for i, r in rows.items() if not r.up} == set(sd[0])
    assert all(rows[i].up and rows[i].power_watts > 0 for i in sd[1])
    assert summary.totals.nodes_up == len(sd[1])
    assert source.node_detail(next(iter(sd[0]))) is not None

    # The source's thread and header: connected to the global layer.
    source.start()
    try:
        deadline = time.monotonic() + 10
        while source.latest() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert source.latest() is not None and source.status.connected
    finally:
        source.stop()
