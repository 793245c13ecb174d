"""Parsing real-shaped reports: hand-written documents, legacy names, fuzz, truncation."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.neuron_monitor.conftest import fixture_line
from trnmon.neuron_monitor.feed import Ingest
from trnmon.neuron_monitor.parse import Malformed, Sample, parse_line


def ingest(*lines: str) -> Ingest:
    ing = Ingest()
    for line in lines:
        ing.line(line)
    return ing


def test_trn2_lnc2_document() -> None:
    ing = ingest(fixture_line("trn2_lnc2"), fixture_line("trn2_lnc2"))
    d = ing.detail
    assert d is not None and d.instance_id == "i-0123456789abcdef0"
    assert (d.lnc, d.core_version, d.logical_cores_per_device, len(d.devices)) == (
        2, "v3d", 4, 16)
    dev0 = d.devices[0]
    assert [c.utilization for c in dev0.logical_cores[:2]] == pytest.approx([0.4201, 0.5])
    assert [c.utilization for c in dev0.cores[:4]] == pytest.approx([0.2101, 0.6301, 0.4, 0.6])
    assert dev0.hbm_used_bytes["tensors"] == 17.2e9 and dev0.hbm_total_bytes == 96 * 2**30
    assert d.devices[1].logical_cores[0].utilization == pytest.approx(0.1)  # core 4
    assert dev0.ecc["mem_ecc_corrected"] == 6  # two periods of 3
    job = d.jobs[0]
    assert (job.name, job.model, job.steps) == ("llama-serve", "llama3-8b.neff", 240)
    assert sum(dv.execution_status["completed"] for dv in d.devices) == pytest.approx(240)
    assert dev0.latency_seconds["p99"] == 0.02
    assert d.host.vcpus == 2 and d.host.vcpu_user_ratio == pytest.approx(0.21)
    assert d.host.vcpu_system_ratio == pytest.approx(0.06)
    assert d.host.runtime_vcpu_user_ratio == pytest.approx(0.125)
    assert dev0.temperature_celsius != dev0.temperature_celsius  # NaN: not reported
    s = ing.summary
    assert s is not None and s.source == "neuron-monitor" and s.totals.chips == 16
    hist = ing.series("i-0123456789abcdef0/nd0")
    assert hist is not None and len(hist.t) == 2


def test_trn1_and_inf2_documents() -> None:
    trn1 = ingest(fixture_line("trn1")).detail
    assert trn1 is not None and (trn1.core_version, trn1.lnc, len(trn1.devices)) == ("v2", 1, 16)
    assert trn1.devices[15].logical_cores[1].utilization == pytest.approx(0.9)  # core 31
    assert trn1.devices[15].health == "failed"  # an uncorrectable ECC event
    assert trn1.devices[0].latency_seconds == {}  # total_latency null: nothing ran
    assert trn1.location.instance_type == "trn1n.32xlarge"
    inf2 = ingest(fixture_line("inf2")).detail
    assert inf2 is not None and len(inf2.devices) == 12
    assert [c.utilization for c in inf2.devices[11].logical_cores] == pytest.approx([0.75, 0.25])
    assert inf2.host.vcpus == 0  # vcpu_usage null


def test_idle_host_with_null_devices() -> None:
    ing = ingest(fixture_line("idle"))
    d = ing.detail
    assert d is not None and d.jobs == [] and len(d.devices) == 16
    assert all(dev.utilization == 0 and dev.job_id == 0 for dev in d.devices)
    assert not ing.host.ecc_seen  # neuron_devices: null (aws-neuron-sdk#633)


def test_legacy_1x_names() -> None:
    ing = ingest(fixture_line("legacy_1x"))
    d = ing.detail
    assert d is not None and len(d.devices) == 4 and d.jobs[0].name == "1200"  # pid as tag
    assert d.devices[0].logical_cores[0].utilization == pytest.approx(0.6)
    assert d.devices[0].logical_cores[3].utilization == pytest.approx(0.2)
    assert d.host.runtime_vcpu_user_ratio == pytest.approx(0.04)
    assert d.jobs[0].steps == 10 and d.devices[0].ecc["mem_ecc_corrected"] == 5
    assert any("failed to read /proc/stat" in e.text for e in ing.host.events)


def test_runtime_that_ends_reads_idle_but_keeps_counters() -> None:
    busy = fixture_line("trn2_lnc2")
    idle = json.loads(busy)
    idle["neuron_runtime_data"] = []
    ing = ingest(busy, json.dumps(idle))
    assert ing.detail is not None and ing.detail.jobs == []
    assert ing.host.totals["llama-serve"].status["completed"] == 120


@pytest.mark.parametrize("line", ["", "   \n"])
def test_blank_lines_are_ignored(line: str) -> None:
    assert parse_line(line) is None


def test_truncated_lines_are_counted_never_fatal() -> None:
    full = fixture_line("trn2_lnc2")
    ing = Ingest()
    for cut in range(1, len(full), 97):
        ing.line(full[:cut])
    assert ing.host.malformed_lines == len(range(1, len(full), 97))
    assert ing.detail is None and ing.host.events[-1].kind == "malformed_line"
    ing.line(full)
    assert ing.detail is not None and ing.host.reports == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["0", "1", "nc_v3.1", "period", "error", "report", "neuron_devices",
                         "neuroncores_in_use", "v3d", "neuroncore_utilization", "flops",
                         "x", "²"]) | st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


def mutate(doc: object, path: list[str], value: object) -> object:
    """Replace the value at a (partial) key path inside a real report."""
    node = doc
    for key in path[:-1]:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and node:
            node = node[0]
        else:
            return doc
    if isinstance(node, dict) and path:
        node[path[-1]] = value
    return doc


PATHS = [["neuron_runtime_data"], ["neuron_runtime_data", "report"],
         ["neuron_runtime_data", "report", "neuroncore_counters"],
         ["neuron_runtime_data", "report", "neuroncore_counters", "neuroncores_in_use"],
         ["neuron_runtime_data", "report", "neuroncore_counters", "neuroncores_in_use", "0"],
         ["neuron_runtime_data", "report", "memory_used", "neuron_runtime_used_bytes"],
         ["neuron_runtime_data", "report", "execution_stats", "latency_stats"],
         ["neuron_runtime_data", "report", "execution_stats", "execution_summary"],
         ["system_data"], ["system_data", "neuron_hw_counters", "neuron_devices"],
         ["system_data", "vcpu_usage", "average_usage"], ["system_data", "memory_info"],
         ["instance_info"], ["neuron_hardware_info"],
         ["neuron_hardware_info", "neuron_device_count"],
         ["neuron_hardware_info", "neuroncore_per_device_count"]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["trn2_lnc2", "trn1", "inf2", "idle", "legacy_1x"]),
       st.sampled_from(PATHS), json_values)
def test_fuzzed_fields_never_raise(name: str, path: list[str], value: object) -> None:
    doc = mutate(json.loads(fixture_line(name)), path, value)
    ing = Ingest()
    ing.line(json.dumps(doc))
    assert ing.host.reports + ing.host.malformed_lines == 1
    if ing.summary is not None:
        ing.summary.model_dump_json()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode) | json_values.map(
    lambda v: json.dumps(v).encode()))
def test_fuzzed_lines_never_raise(raw: bytes) -> None:
    result = parse_line(raw)
    assert result is None or isinstance(result, Sample | Malformed)
    Ingest().line(raw)
