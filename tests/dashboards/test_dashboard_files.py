"""The committed dashboards/ files are exactly what the generator writes, and every query in
them names real metrics, honours the template variables and hard-codes no device."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from trnmon.dashboards import files, rules
from trnmon.dashboards.promql import metric_names, recorded_names, unknown_names
from trnmon.exporter.catalog import BY_NAME

ROOT = Path(__file__).resolve().parents[2]
CHAIN = ["availability_zone", "rack", "ultraserver", "instance_id", "neuron_device"]


def _boards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in (ROOT / "dashboards/grafana").glob(
        "*.json")}


def _exprs(board: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def test_committed_files_equal_generated() -> None:
    assert files.stale(ROOT / "dashboards") == [], "run `trnmon dashboards generate`"
    assert set(_boards()) == {"fleet-overview", "node-device", "jobs", "cost-goodput"}


def test_generate_check_command() -> None:
    r = subprocess.run([sys.executable, "-m", "trnmon", "dashboards", "generate", "--check",
                        "--out", str(ROOT / "dashboards")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr


def test_check_command_reports_a_hand_edit(tmp_path: Path) -> None:
    files.write(tmp_path)
    (tmp_path / "prometheus/alerts.yml").write_text("edited\n")
    r = subprocess.run([sys.executable, "-m", "trnmon", "dashboards", "generate", "--check",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "alerts.yml" in r.stderr


def test_every_metric_name_is_in_the_catalog_or_a_rule() -> None:
    exprs = [e for b in _boards().values() for e in _exprs(b)]
    exprs += [r.expr for r in rules.RECORDINGS] + [a.expr for a in rules.alert_rules()]
    assert unknown_names(exprs) == set()
    used = {n for e in exprs for n in metric_names(e)}
    assert used & set(BY_NAME) and used & recorded_names()  # the check sees both kinds


def test_metric_name_extraction_is_not_fooled() -> None:
    assert metric_names('sum by (state) (rate(x_total{a="b c"}[5m])) / on (i) y') == {
        "x_total", "y"}
    assert unknown_names(["neuron_device_power_wats"]) == {"neuron_device_power_wats"}


def test_template_variables_are_chained() -> None:
    for name, board in _boards().items():
        variables = [v for v in board["templating"]["list"] if v["type"] == "query"]
        names = [v["name"] for v in variables]
        chain = CHAIN if name not in ("jobs", "cost-goodput") else CHAIN[:-1]
        assert names[: len(chain)] == chain, name
        for i, v in enumerate(variables[1: len(chain)], start=1):
            # each variable lists only values under the selection just before it
            assert f"${names[i - 1]}" in v["definition"], (name, v["name"])
        assert all(v["includeAll"] and v["allValue"] == ".*" for v in variables)


def test_no_hard_coded_devices_and_repeats_are_used() -> None:
    for name, board in _boards().items():
        for e in _exprs(board):
            assert not re.search(r'neuron_device="?\d', e), (name, e)
            assert not re.search(r'instance_id="i-', e), (name, e)
        if name != "fleet-overview":  # fleet panels aggregate; drill-downs repeat
            assert any(p.get("repeat") for p in board["panels"]), name


def test_every_panel_has_a_unit_and_queries() -> None:
    for name, board in _boards().items():
        for p in board["panels"]:
            if p["type"] == "row":
                continue
            assert p["targets"], (name, p["title"])
            assert "unit" in p["fieldConfig"]["defaults"], (name, p["title"])


def test_every_alert_has_runbook_severity_and_emulator_trigger() -> None:
    required = {"NeuronUncorrectableECC", "NeuronCorrectableECCStorm", "NeuronLinkDown",
                "NeuronLinkDegraded", "NeuronDeviceThermalThrottling", "NeuronDeviceHung",
                "NeuronNodeDown", "NeuronDeviceHBMNearCapacity", "NeuronAllocatedIdle",
                "NeuronJobRestarted", "NeuronUltraServerDown", "NeuronDeviceFailed",
                "NeuronEFADeviceDown"}
    alerts = rules.alert_rules()
    assert {a.alert for a in alerts} == required
    for a in alerts:
        assert a.severity in ("critical", "warning") and a.runbook.count("\n") >= 2
        assert a.summary and a.description and a.fault
        assert a.runbook_url.endswith("#" + a.alert.lower())
        assert a.dashboard_url.startswith(rules.GRAFANA_URL + "/d/trnmon-")


def test_scaled_copy_changes_only_durations() -> None:
    fast = rules.scaled(rules.alert_rules(), 100)
    for slow, quick in zip(rules.alert_rules(), fast, strict=True):
        assert re.sub(r"\[\w+\]", "[]", slow.expr) == re.sub(r"\[\w+\]", "[]", quick.expr)
    hung = next(a for a in fast if a.alert == "NeuronDeviceHung")
    assert "[6s]" in hung.expr and hung.for_ == "3s"
    us = next(a for a in fast if a.alert == "NeuronUltraServerDown")
    assert us.for_ == "1s" and us.keep_firing_for == "3s"  # 1m and 5m, 100x faster
    assert all(a.keep_firing_for == "" for a in fast if a.alert != "NeuronUltraServerDown")


def test_cost_dashboard_has_the_issue_19_panels() -> None:
    """Burn rate by family and state, tokens per dollar by job and model, effective training
    time and lost work by cause, each from the catalog's series (the live test checks each
    returns data from a real Prometheus)."""
    panels = {p["title"]: " ".join(t["expr"] for t in p.get("targets", []))
              for p in _boards()["cost-goodput"]["panels"]}
    burn = panels["Burn rate by family and state"]
    assert "neuron_fleet_capacity_cost_dollars_per_hour" in burn
    assert "by (instance_family, state)" in burn
    stacked = next(p for p in _boards()["cost-goodput"]["panels"]
                   if p["title"] == "Burn rate by family and state")
    assert stacked["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    assert "group_left (model)" in panels["Tokens per dollar by job and model"]
    assert "neuron_job_effective_training_time_ratio" in panels["Effective training time"]
    lost = panels["Lost work by cause in the time range"]
    assert "neuron_fleet_lost_chip_seconds_total" in lost and "by (cause)" in lost
    assert "neuron_fleet_lost_cost_dollars_total" in panels["Lost dollars by family and cause"]
    for name in ("neuron_fleet_capacity_cost_dollars_per_hour",
                 "neuron_fleet_lost_chip_seconds_total"):
        assert BY_NAME[name].scope == "fleet"
