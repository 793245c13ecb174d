"""`trnmon exporter --neuron-monitor`: the catalog from real reports, and AWS's dashboard.

The dashboard test runs the whole chain as processes: `trnmon monitor` (emulated node,
fast clock) -> `trnmon exporter --neuron-monitor` -> a real Prometheus -> every query of
AWS's neuron-monitor Grafana dashboard (reference §6) returns data.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest_prometheus import PROMETHEUS, Prometheus
from tests.neuron_monitor.conftest import fixture_line
from tests.server_process import free_port, stop
from trnmon.exporter.catalog import BY_NAME
from trnmon.neuron_monitor.exposition import PROVIDED, HostExposition
from trnmon.neuron_monitor.feed import Ingest

ABSENT = ("neuron_device_temperature_celsius", "neuron_device_power_watts",
          "neuron_device_energy_joules_total", "neuronlink_tx_bytes_total",
          "neuronlink_state", "neuron_efa_tx_bytes_total", "neuron_device_health_state",
          "neuroncore_engine_active_ratio", "neuron_job_info")
DASHBOARD = (  # reference §6: AWS's neuron-monitor-grafana.json
    "instance_info", "count(instance_info)", "sum(system_vcpu_count)",
    "avg(sum by (instance_id)(system_vcpu_usage_ratio))",
    "avg(system_memory_used_bytes / system_memory_total_bytes)",
    "count(neuroncore_utilization_ratio > 0)", "avg(neuroncore_utilization_ratio)",
    'sum(rate(execution_status_total{status_type="completed"}[1m]))',
    'sum(rate(execution_status_total{status_type!="completed"}[1m]))',
    "avg by (percentile)(execution_latency_seconds)",
    "avg by (neuroncore)(neuroncore_utilization_ratio)",
    "avg by (usage_type)(neuron_runtime_vcpu_usage_ratio)",
    "avg by (memory_location)(sum by (instance_id, memory_location)"
    "(neuron_runtime_memory_used_bytes))",
    "avg by (usage_type)(system_vcpu_usage_ratio)",
)


def exposition(*names: str) -> str:
    ing = Ingest()
    for name in names:
        ing.line(fixture_line(name))
    return HostExposition().render(ing.host)


def series(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            out.setdefault(line.split("{")[0].split(" ")[0], []).append(line)
    return out


def test_trn2_exposition_uses_the_catalog_and_omits_what_is_not_reported() -> None:
    text = exposition("trn2_lnc2", "trn2_lnc2")
    found = series(text)
    assert set(found) <= PROVIDED and not set(found) & set(ABSENT)
    # The runtime lists cores 0, 1 and 4 only: one series each, as AWS's script exports.
    assert len(found["neuroncore_utilization_ratio"]) == 3
    for name in found:
        assert f"# TYPE {name} {BY_NAME[name].exposition_type}" in text
    util = [s for s in found["neuroncore_utilization_ratio"] if 'neuroncore="1"' in s]
    assert util[0].endswith(" 0.5") and 'runtime_tag="llama-serve"' in util[0]
    assert 'neuron_device="0"' in util[0] and 'instance_id="i-0123456789abcdef0"' in util[0]
    assert not any('runtime_tag="none"' in s for v in found.values() for s in v)
    done = [s for s in found["execution_status_total"] if '"completed"' in s]
    assert done[0].endswith(" 240")  # two periods of 120, printed as an integer
    ecc = [s for s in found["hardware_ecc_events_total"]
           if 'neuron_device="0"' in s and "mem_ecc_corrected" in s]
    assert ecc[0].endswith(" 6")
    assert len(found["neuron_device_hbm_used_bytes"]) == 16  # every device of the host


def test_idle_and_legacy_hosts() -> None:
    idle = series(exposition("idle"))
    assert "hardware_ecc_events_total" not in idle  # neuron_devices: null
    # AWS's script exports no per-core or per-runtime series on an idle host.
    assert "execution_status_total" not in idle and "neuroncore_utilization_ratio" not in idle
    legacy = series(exposition("legacy_1x"))
    assert "system_vcpu_count" not in legacy and "system_memory_total_bytes" not in legacy
    assert len(legacy["neuroncore_utilization_ratio"]) == 2


def test_promtool_accepts_the_exposition(tmp_path: Path) -> None:
    promtool = Path(PROMETHEUS).with_name("promtool")
    if not promtool.exists():
        pytest.skip("promtool is not installed")
    r = subprocess.run([str(promtool), "check", "metrics"], input=exposition("trn1"),
                       capture_output=True, text=True, timeout=30)
    problems = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    assert all("system_vcpu_count" in p for p in problems), problems  # AWS's own name


def trnmon(*args: str) -> list[str]:
    return [sys.executable, "-m", "trnmon", *args]


@pytest.mark.slow  # starts the exporter process
def test_bad_listen_and_missing_flag_are_one_line() -> None:
    for args in (["--neuron-monitor", "-", "--listen", "nope"], []):
        r = subprocess.run(trnmon("exporter", *args), capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:  # not listening yet
        return 0, ""


@pytest.mark.slow  # starts the exporter and a real Prometheus
def test_aws_dashboard_queries_return_data(tmp_path: Path) -> None:
    if not Path(PROMETHEUS).exists():
        pytest.skip("prometheus is not installed (Debian package 'prometheus')")
    port = free_port()
    monitor = shlex.join(trnmon("monitor", "--preset", "tiny", "--node", "3",
                                "--speed", "25"))
    exporter = subprocess.Popen(
        trnmon("exporter", "--neuron-monitor", monitor, "--listen", f"127.0.0.1:{port}"),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    prom = Prometheus(tmp_path / "prometheus", "http://unused")
    prom.config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "neuron-monitor",
                            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]}))
    try:
        deadline = time.monotonic() + 30
        while get(f"http://127.0.0.1:{port}/metrics")[0] != 200:
            assert time.monotonic() < deadline and exporter.poll() is None, (
                exporter.stderr.read().decode() if exporter.stderr else "")
            time.sleep(0.2)
        prom.start()
        for query in DASHBOARD:
            prom.wait_for(query, lambda result: len(result) > 0, timeout=30)
        rate = prom.query('sum(rate(execution_status_total{status_type="completed"}[1m]))')
        assert float(rate[0]["value"][1]) > 0
        assert prom.query("count(neuroncore_utilization_ratio)")[0]["value"][1] == "64"
        assert prom.query("neuron_device_temperature_celsius") == []
    finally:
        prom.stop()
        stop(exporter)
