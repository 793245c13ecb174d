"""The shipped dashboards and rules against the real daemon and a real Prometheus.

One daemon (tiny fleet, seed 1, no random job arrivals so freed nodes stay free) runs at
SPEED simulated seconds per wall second; Prometheus scrapes it through /sd with the shipped
scrape config and recording rules, and a copy of the alert rules whose ranges and `for:`
are divided by SPEED, so they mean the same in simulated time. Tests run in file order:
first the healthy fleet (every panel and recording rule returns data, no alert at all),
then every fault kind injected through the control API and its alert seen.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest_daemon import DaemonProcess
from tests.conftest_prometheus import PROMETHEUS, Prometheus
from trnmon.dashboards import federation, files, rules
from trnmon.dashboards.yamltext import dump
from trnmon.exporter import names
from trnmon.hw.catalog import efa_device_name

pytestmark = pytest.mark.slow  # starts a daemon, Prometheus and Alertmanager

ROOT = Path(__file__).resolve().parents[2]
SPEED = 100.0
HEALTHY_WALL_S = 25.0  # > the longest scaled `for:` (30m / SPEED = 18 s)
ALERT_TIMEOUT_S = 60.0
SUBSTITUTE = {"$__rate_interval": "10s", "$__range": "1h", "$__interval": "5s"}


class ShippedPrometheus(Prometheus):
    """The fixture's Prometheus, configured with the shipped scrape config and rules."""

    def __init__(self, workdir: Path, sd_url: str, daemon: str) -> None:
        super().__init__(workdir, sd_url)
        alerts = workdir / "alerts-fast.yml"
        alerts.write_text(dump(rules.alert_groups(rules.scaled(rules.alert_rules(), SPEED))))
        cfg = files.prometheus_config(
            sd_url=sd_url, daemon_target=daemon, interval="1s",
            rule_files=(str(ROOT / "dashboards/prometheus/recording.yml"),
                        str(ROOT / "dashboards/prometheus/node-rules.yml"), str(alerts)))
        self.config.write_text(dump(cfg))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DaemonProcess,
                                                                      Prometheus]]:
    # No skip: CI installs prometheus, so a missing binary must fail the suite.
    assert Path(PROMETHEUS).exists(), "prometheus missing: install the Debian package"
    tmp = tmp_path_factory.mktemp("live")
    daemon = DaemonProcess(tmp / "state", "--seed", "1", "--speed", str(SPEED),
                           env={"TRNMON_WORKLOAD__ARRIVALS_PER_HOUR": "0"})
    prom: Prometheus | None = None
    try:
        daemon.start()
        prom = ShippedPrometheus(tmp / "prometheus", daemon.url + "/sd",
                                 f"127.0.0.1:{daemon.port}").start()
        yield daemon, prom
    finally:
        if prom is not None:
            prom.stop()
        daemon.kill()


def _exprs() -> list[tuple[str, str]]:
    """(where, expr) for every panel target of every dashboard, variables substituted."""
    out = []
    for name, board in files.dashboard_json().items():
        for panel in board["panels"]:  # type: ignore[attr-defined]
            for t in panel.get("targets", []):
                expr = t["expr"]
                for var, value in SUBSTITUTE.items():
                    expr = expr.replace(var, value)
                expr = re.sub(r"\$[a-z_]+", ".*", expr)  # template variables: match all
                out.append((f"{name}: {panel['title']}", expr))
    return out


def test_every_panel_and_recording_rule_returns_data(stack: tuple[DaemonProcess,
                                                                  Prometheus]) -> None:
    _, prom = stack
    prom.wait_for('up{job="trnmon-nodes"} == 1', lambda r: len(r) == 6)
    # Rates need two scrapes and rules one evaluation after them.
    prom.wait_for("job_id:neuron_job_tokens:rate1m", lambda r: len(r) > 0)
    empty = []
    node_rules = [(f"rule {r.record}", r.record) for r in federation.NODE_RULES]
    for where, expr in (_exprs() + [(f"rule {r.record}", r.record) for r in rules.RECORDINGS]
                        + node_rules):
        deadline = time.monotonic() + 10
        while not prom.query(expr):
            if time.monotonic() > deadline:
                empty.append(f"{where}: {expr}")
                break
            time.sleep(0.5)
    assert not empty, "queries without data:\n" + "\n".join(empty)
    # Zero-safe: every per-node count has a series for every node (0 on a healthy one).
    for _, name in node_rules:
        if name.startswith("instance_id:"):
            assert len(prom.query(name)) == 6, name
    assert {float(r["value"][1]) for r in prom.query(names.NODE_UNHEALTHY)} == {0.0}
    assert [float(r["value"][1]) for r in prom.query(names.JOB_RESTARTS)] and all(
        float(r["value"][1]) == 0 for r in prom.query(names.JOB_RESTARTS))


def test_healthy_fleet_fires_no_alert(stack: tuple[DaemonProcess, Prometheus]) -> None:
    daemon, prom = stack
    deadline = time.monotonic() + HEALTHY_WALL_S
    while time.monotonic() < deadline:  # fail at the first alert, pending or firing
        alerts = prom.query("ALERTS")
        assert not alerts, [a["metric"] for a in alerts]
        time.sleep(1.0)
    assert daemon.get_json("/api/v1/faults")["faults"] == []  # no random fault happened
    seen = prom.query("count_over_time(ALERTS[5m])")
    assert not seen, [s["metric"] for s in seen]


def _post(daemon: DaemonProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, _, raw = daemon.request("POST", path, body, token=True)
    assert status == 201, (path, body, status, raw)
    return dict(json.loads(raw))


def _delete(daemon: DaemonProcess, path: str) -> None:
    status, _, raw = daemon.request("DELETE", path, token=True)
    assert status == 200, (path, status, raw)


def _seen(prom: Prometheus, alert: str, **labels: str) -> bool:
    m = ", ".join([f'alertname="{alert}"'] + [f'{k}="{v}"' for k, v in labels.items()])
    return bool(prom.query(f"count_over_time(ALERTS{{{m}}}[10m])"))


def test_each_fault_fires_its_alert(stack: tuple[DaemonProcess, Prometheus]) -> None:
    daemon, prom = stack
    ids = [t["labels"]["instance"] for t in daemon.get_json("/sd")]
    jobs = {tuple(j["instance_ids"]): j["job_id"] for j in daemon.get_json("/api/v1/jobs")["jobs"]}
    n0, n1, n2, n3, n4, n5 = ids  # 4 x trn2u (one UltraServer), trn1, inf2
    # n1's job must still run: its crash and restart are what NeuronJobRestarted sees.
    assert (n1,) in jobs, jobs
    # Free the trn1 and inf2 nodes for two jobs: one too big for HBM, one with no traffic.
    # Small families run short jobs, so theirs may already have finished (no arrivals).
    for node in (n4, n5):
        if (node,) in jobs:
            _delete(daemon, f"/api/v1/jobs/{jobs[(node,)]}")
    _post(daemon, "/api/v1/jobs", {"kind": "pretrain", "model": "llama3-405b", "nodes": 1,
                                   "instance_family": "trn1"})
    _post(daemon, "/api/v1/jobs", {"kind": "inference", "model": "llama3-8b", "nodes": 1,
                                   "instance_family": "inf2", "peak_rps": 0})
    faults = [  # (kind, node, device) -> expected alert and its labels
        ("chip_hang", n0, 0), ("sram_ecc_uncorrected", n0, 1),
        ("hbm_ecc_uncorrected", n1, 1),
        ("link_degraded", n2, 0), ("link_down", n2, 5), ("thermal_throttle", n2, 9),
        ("efa_down", n2, 4),
        ("hbm_ecc_corrected", n2, 2), ("sram_ecc_corrected", n2, 3),
        ("node_loss", n3, 0),
        # n0's job has already crashed: these fail two more devices without moving a job.
        ("chip_failure", n0, 2), ("silent_data_corruption", n0, 3),
    ]
    injected = {}
    for kind, node, dev in faults:
        injected[kind] = _post(daemon, "/api/v1/faults",
                               {"kind": kind, "instance_id": node, "device": dev})
    expect = {
        "chip_hang": ("NeuronDeviceHung", {"instance_id": n0, "neuron_device": "0"}),
        "sram_ecc_uncorrected": ("NeuronUncorrectableECC", {
            "instance_id": n0, "neuron_device": "1", "event_type": "sram_ecc_uncorrected"}),
        "hbm_ecc_uncorrected": ("NeuronUncorrectableECC", {
            "instance_id": n1, "neuron_device": "1", "event_type": "mem_ecc_uncorrected"}),
        "link_degraded": ("NeuronLinkDegraded", {"instance_id": n2, "neuron_device": "0"}),
        "link_down": ("NeuronLinkDown", {"instance_id": n2, "neuron_device": "5"}),
        "efa_down": ("NeuronEFADeviceDown", {"instance_id": n2,
                                             "efa_device": efa_device_name(4)}),
        "thermal_throttle": ("NeuronDeviceThermalThrottling",
                             {"instance_id": n2, "neuron_device": "9"}),
        "hbm_ecc_corrected": ("NeuronCorrectableECCStorm", {
            "instance_id": n2, "neuron_device": "2", "event_type": "mem_ecc_corrected"}),
        "sram_ecc_corrected": ("NeuronCorrectableECCStorm", {
            "instance_id": n2, "neuron_device": "3", "event_type": "sram_ecc_corrected"}),
        "node_loss": ("NeuronNodeDown", {"instance_id": n3}),
        "chip_failure": ("NeuronDeviceFailed", {"instance_id": n0, "neuron_device": "2"}),
        "silent_data_corruption": ("NeuronDeviceFailed",
                                   {"instance_id": n0, "neuron_device": "3"}),
        "submit:oversized job": ("NeuronDeviceHBMNearCapacity", {"instance_id": n4}),
        "submit:idle serving job": ("NeuronAllocatedIdle", {"instance_id": n5}),
        "restart": ("NeuronJobRestarted", {}),
    }
    # NeuronUltraServerDown needs two nodes of one UltraServer down: test_alert_delivery.py.
    assert {a for a, _ in expect.values()} == {a.alert for a in rules.alert_rules()} - {
        "NeuronUltraServerDown"}
    # The uncorrectable error crashed n1's job; repairing the chip lets a crashed job
    # restart there from its checkpoint, and its token counter starts again from 0.
    prom.wait_for('ALERTS{alertname="NeuronUncorrectableECC"}', lambda r: len(r) >= 1)
    _delete(daemon, f"/api/v1/faults/{injected['hbm_ecc_uncorrected']['fault_id']}")
    deadline = time.monotonic() + ALERT_TIMEOUT_S
    missing = dict(expect)
    while missing and time.monotonic() < deadline:
        missing = {k: v for k, v in missing.items() if not _seen(prom, v[0], **v[1])}
        time.sleep(1.0)
    seen = sorted({(s["metric"]["alertname"], s["metric"].get("instance_id", ""),
                    s["metric"].get("neuron_device", ""))
                   for s in prom.query("count_over_time(ALERTS[10m])")})
    assert not missing, f"alerts never pending/firing: {missing}; seen: {seen}"
