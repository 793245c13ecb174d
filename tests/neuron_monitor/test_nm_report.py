"""`trnmon monitor` output: neuron-monitor's schema, per-period counts, config handling."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.neuron_monitor.conftest import builder, engine
from trnmon.api.views import node_detail
from trnmon.neuron_monitor.config import MonitorConfig, config_from_dict
from trnmon.neuron_monitor.emulated import EngineFeed, run
from trnmon.neuron_monitor.schema import RUNTIME_GROUPS, SYSTEM_GROUPS
from trnmon.sim import Engine
from trnmon.snapshot import FleetSnapshot


def reports(eng: Engine, node: int, n: int, config: MonitorConfig | None = None,
            interval: float | None = None) -> list[dict]:
    import io

    cfg = config or MonitorConfig.default()
    out = io.StringIO()
    run(EngineFeed(eng, node), builder(eng, node, cfg), out, count=n,
        interval=interval or cfg.periods()[0], wall_per_sim=0.0)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def groups_ok(holder: dict) -> None:
    for g in holder.values():
        assert isinstance(g["period"], float) and g["error"] == ""


def test_trn2_lnc2_report_has_every_group_with_v3d(tiny_engine: Engine) -> None:
    (doc,) = reports(tiny_engine, 0, 1)
    assert list(doc) == ["neuron_runtime_data", "system_data", "instance_info",
                         "neuron_hardware_info"]
    assert doc["neuron_hardware_info"] == {
        "neuron_device_type": "trainium2", "neuron_device_version": "v4",
        "neuroncore_version": "v3d", "neuron_device_count": 16,
        "neuron_device_memory_size": 103079215104, "neuroncore_per_device_count": 4,
        "logical_neuroncore_config": 2, "error": ""}
    info = doc["instance_info"]
    # Node 0 of `tiny` is a trn2u.48xlarge in an UltraServer: AWS's `ultraserver_id`.
    assert set(info) == {"instance_name", "instance_id", "instance_type",
                         "instance_availability_zone", "instance_availability_zone_id",
                         "instance_region", "ami_id", "subnet_id", "ultraserver_id", "error"}
    assert re.fullmatch(r"u-[0-9a-f]{16}", info["ultraserver_id"])
    (rt,) = doc["neuron_runtime_data"]
    assert set(rt) == {"pid", "address", "neuron_runtime_tag", "error", "report"}
    assert list(rt["report"]) == list(RUNTIME_GROUPS)
    groups_ok(rt["report"])
    assert list(doc["system_data"]) == list(SYSTEM_GROUPS)
    groups_ok(doc["system_data"])
    cores = rt["report"]["neuroncore_counters"]["neuroncores_in_use"]
    assert sorted(map(int, cores)) == list(range(64))
    c1 = cores["1"]
    assert list(c1["v3d"]) == ["nc_v3.2", "nc_v3.3"]  # reference §4.3
    phys = [v["neuroncore_utilization"] for v in c1["v3d"].values()]
    assert c1["neuroncore_utilization"] == pytest.approx(sum(phys) / 2, rel=1e-5)
    mem = rt["report"]["memory_used"]
    per_core = mem["neuron_runtime_used_bytes"]["usage_breakdown"]["neuroncore_memory_usage"]
    assert set(per_core["0"]) == {"tensors", "constants", "model_code",
                                  "model_shared_scratchpad", "runtime_memory"}
    assert mem["neuron_runtime_used_bytes"]["neuron_device"] == sum(
        sum(c.values()) for c in per_core.values())
    assert mem["loaded_models"][0]["subgraphs"]["sg_00"]["neuroncore_index"] == 0
    cpu = doc["system_data"]["vcpu_usage"]
    assert len(cpu["usage_data"]) == 192  # AWS's script counts vCPUs as len(usage_data)
    for field in ("user", "system"):
        avg = sum(c[field] for c in cpu["usage_data"].values()) / 192
        assert avg == pytest.approx(cpu["average_usage"][field], abs=0.02)
    assert all(sum(c.values()) == pytest.approx(100, abs=0.1) or c["idle"] == 0
               for c in cpu["usage_data"].values())


@pytest.mark.parametrize(("node", "dtype", "version", "count", "per_device"),
                         [(4, "trainium", "v2", 16, 2), (5, "inferentia2", "v2", 12, 2)])
def test_trn1_inf2_hardware_info(tiny_engine: Engine, node: int, dtype: str, version: str,
                                 count: int, per_device: int) -> None:
    (doc,) = reports(tiny_engine, node, 1)
    hw = doc["neuron_hardware_info"]
    assert (hw["neuron_device_type"], hw["neuroncore_version"], hw["neuron_device_count"],
            hw["neuroncore_per_device_count"]) == (dtype, version, count, per_device)
    assert hw["neuron_device_memory_size"] == 32 * 2**30
    assert hw["logical_neuroncore_config"] == 1  # as real trn1/inf2 hosts report
    assert "ultraserver_id" not in doc["instance_info"]
    cores = doc["neuron_runtime_data"][0]["report"]["neuroncore_counters"]
    assert all("v3d" not in c for c in cores["neuroncores_in_use"].values())


def test_lnc1_reports_eight_cores_per_device_without_v3d() -> None:
    eng = engine(lnc=1)
    (doc,) = reports(eng, 0, 1)
    assert doc["neuron_hardware_info"]["neuroncore_version"] == "v3"
    assert doc["neuron_hardware_info"]["logical_neuroncore_config"] == 1
    cores = doc["neuron_runtime_data"][0]["report"]["neuroncore_counters"]["neuroncores_in_use"]
    assert len(cores) == 128 and all("v3d" not in c for c in cores.values())


def test_idle_node_has_no_runtimes_but_system_data() -> None:
    eng = engine(workload={"initial_fill": 0.0, "arrivals_per_hour": 0.0})
    (doc,) = reports(eng, 0, 1)
    assert doc["neuron_runtime_data"] == []
    assert set(doc["system_data"]) == set(SYSTEM_GROUPS)
    assert doc["neuron_hardware_info"]["neuron_device_count"] == 16


def test_counts_are_per_period_deltas_of_the_engine_counters(tiny_engine: Engine) -> None:
    tiny_engine.inject("hbm_ecc_corrected", chip=3 * 16 + 2)
    start = node_detail(FleetSnapshot.capture(tiny_engine), 3)
    docs = reports(tiny_engine, 3, 4)
    end = node_detail(FleetSnapshot.capture(tiny_engine), 3)
    done = sum(d["neuron_runtime_data"][0]["report"]["execution_stats"]["execution_summary"]
               ["completed"] for d in docs)

    def floor_sum(detail: object, attr: str, key: str) -> float:
        return sum(math.floor(getattr(dev, attr)[key] + 1e-6)
                   for dev in detail.devices)  # type: ignore[attr-defined]

    assert done > 0
    assert done == floor_sum(end, "execution_status", "completed") - floor_sum(
        start, "execution_status", "completed")
    ecc = [sum(dev["mem_ecc_corrected"] for dev in d["system_data"]["neuron_hw_counters"]
               ["neuron_devices"]) for d in docs]
    assert sum(ecc) == floor_sum(end, "ecc", "mem_ecc_corrected") - floor_sum(
        start, "ecc", "mem_ecc_corrected")
    assert sum(ecc) > 0 and all(d["system_data"]["neuron_hw_counters"]["period"] == 5.0
                                for d in docs)


def test_config_periods_tag_filter_and_group_selection(tiny_engine: Engine) -> None:
    cfg = config_from_dict({
        "period": "1s",
        "neuron_runtimes": [{"tag_filter": "pretrain-.*",
                             "metrics": [{"type": "nc_counters"},
                                         {"type": "execution_stats", "period": "2s"}]}],
        "system_metrics": [{"type": "memory_info"},
                           {"type": "neuron_hw_counters", "period": "2000ms"}]})
    docs = reports(tiny_engine, 2, 4, cfg)  # node 2 runs pretrain-3
    assert [sorted(d["system_data"]) for d in docs] == [
        ["memory_info"], ["memory_info", "neuron_hw_counters"]] * 2
    assert [sorted(d["neuron_runtime_data"][0]["report"]) for d in docs] == [
        ["neuroncore_counters"], ["execution_stats", "neuroncore_counters"]] * 2
    assert docs[1]["system_data"]["neuron_hw_counters"]["period"] == pytest.approx(2.0)
    assert reports(tiny_engine, 0, 1, cfg)[0]["neuron_runtime_data"] == []  # inference-2


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trnmon", *args], capture_output=True,
                          text=True, input=stdin, timeout=60)


def test_cli_writes_count_lines_fast() -> None:
    r = run_cli("monitor", "--preset", "tiny", "--node", "4", "--count", "2", "--speed", "1e4")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["instance_info"]["instance_type"] == (
        "trn1.32xlarge")


@pytest.mark.parametrize(("content", "needle"), [
    ("{not json", "not JSON"),
    ('{"period": "fast"}', "period"),
    ('{"system_metrics": [{"type": "gpu_temp"}]}', "unknown metric group"),
    ('{"neuron_runtimes": [{"tag_filter": "(", "metrics": []}]}', "bad regex"),
    ('{"neuron_runtimes": [{"metrics": [{"type": "memory_used", "period": "0s"}]}]}',
     "between"),
    ('{"surprise": 1}', "unknown key"),
])
def test_bad_config_is_one_line_exit_2(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "mon.json"
    path.write_text(content)
    r = run_cli("monitor", "--preset", "tiny", "--config", str(path), "--count", "1")
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, r.stderr


def test_bad_flags_are_one_line_exit_2(tmp_path: Path) -> None:
    for args in (["--count", "0"], ["--speed", "-1"], ["--node", "i-nope"],
                 ["--config", str(tmp_path / "missing.json")]):
        r = run_cli("monitor", "--preset", "tiny", *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_runtime_is_the_jobs_process_with_effective_flops(tiny_engine: Engine) -> None:
    (doc,) = reports(tiny_engine, 3, 1)
    detail = node_detail(FleetSnapshot.capture(tiny_engine), 3)
    (proc,) = detail.processes
    (rt,) = doc["neuron_runtime_data"]
    assert (rt["pid"], rt["neuron_runtime_tag"]) == (proc.pid, proc.runtime_tag)
    cores = rt["report"]["neuroncore_counters"]["neuroncores_in_use"]
    assert all(c["effective_flops"] == c["flops"] for c in cores.values())
    assert any(c["effective_flops"] > 0 for c in cores.values())
    again = node_detail(FleetSnapshot.capture(engine()), 3).processes[0]
    assert again == node_detail(FleetSnapshot.capture(engine()), 3).processes[0]
    assert again.pid == proc.pid and again.command == proc.command  # deterministic by seed


def test_two_runtimes_each_list_every_core(tiny_engine: Engine) -> None:
    """A node shared by two jobs: each runtime lists all 64 cores, 0 on the other's."""
    tiny_engine.step(5.0)
    detail = node_detail(FleetSnapshot.capture(tiny_engine), 0)
    job = detail.jobs[0]
    other = job.model_copy(update={"job_id": job.job_id + 1000, "name": "second"})
    devices = [d.model_copy(update={"job_id": other.job_id}) if d.device >= 8 else d
               for d in detail.devices]
    shared = detail.model_copy(update={"jobs": [job, other], "devices": devices,
                                       "processes": []})
    b = builder(tiny_engine, 0)
    b.prime(shared)
    doc = b.build(shared, force=True)
    first, second = doc["neuron_runtime_data"]
    for rt, mine in ((first, range(0, 32)), (second, range(32, 64))):
        cores = rt["report"]["neuroncore_counters"]["neuroncores_in_use"]
        assert sorted(map(int, cores)) == list(range(64))
        assert all(cores[str(c)]["neuroncore_utilization"] == 0 for c in range(64)
                   if c not in mine)
        assert any(cores[str(c)]["neuroncore_utilization"] > 0 for c in mine)
        per_core = rt["report"]["memory_used"]["neuron_runtime_used_bytes"][
            "usage_breakdown"]["neuroncore_memory_usage"]
        assert list(per_core) == [str(c) for c in range(64)]
        assert all(sum(per_core[str(c)].values()) == 0 for c in range(64) if c not in mine)
