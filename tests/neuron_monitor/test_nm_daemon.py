"""The daemon's per-node neuron-monitor route, and `trnmon monitor --connect`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest_daemon import DaemonProcess
from trnmon.neuron_monitor.feed import Ingest

pytestmark = pytest.mark.slow  # starts a real daemon


def test_daemon_route_and_monitor_connect(tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "state").start()
    try:
        iid = d.get_json("/api/v1/topology")["nodes"][3]["instance_id"]
        first = d.get_json(f"/api/v1/nodes/{iid}/neuron-monitor")
        d.wait_tick(d.tick() + 2)
        second = d.get_json(f"/api/v1/nodes/{iid}/neuron-monitor")
        assert first["instance_info"]["instance_id"] == iid
        assert second["system_data"]["memory_info"]["period"] > 0
        assert second["neuron_runtime_data"][0]["report"]["execution_stats"]["period"] > 0
        status, _, _ = d.request("GET", "/api/v1/nodes/i-nope/neuron-monitor")
        assert status == 404
        mon = subprocess.run(
            [sys.executable, "-m", "trnmon", "monitor", "--connect", d.url, "--node", iid,
             "--count", "2", "--config", str(_config(tmp_path))],
            capture_output=True, text=True, timeout=60)
        assert mon.returncode == 0, mon.stderr
        ing = Ingest()
        for line in mon.stdout.splitlines():
            assert ing.line(line)
        assert ing.detail is not None and ing.detail.instance_id == iid
        assert len(ing.detail.devices) == 16
        # The daemon's API carries each job's runtime process; the reports use its pid/tag.
        procs = d.get_json(f"/api/v1/nodes/{iid}")["processes"]
        assert procs and procs[0]["pid"] >= 2000 and procs[0]["command"]
        seen = {(rt["pid"], rt["neuron_runtime_tag"]) for line in mon.stdout.splitlines()
                for rt in json.loads(line)["neuron_runtime_data"]}
        assert seen == {(p["pid"], p["runtime_tag"]) for p in procs}
        assert second["neuron_runtime_data"][0]["pid"] == procs[0]["pid"]
    finally:
        d.kill()


def _config(tmp_path: Path) -> Path:
    p = tmp_path / "mon.json"
    p.write_text(json.dumps({"period": "500ms",
                             "neuron_runtimes": [{"tag_filter": ".*", "metrics": [
                                 {"type": "neuroncore_counters"}]}],
                             "system_metrics": [{"type": "memory_info"}]}))
    return p
