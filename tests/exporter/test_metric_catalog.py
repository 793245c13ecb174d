"""The metric catalog: AWS compatibility, Prometheus naming, docs table, CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trnmon.cli import main
from trnmon.exporter.catalog import AWS_METRICS, BY_NAME, CATALOG, SELF_METRICS, markdown_table

# neuron-monitor-prometheus.py (reference trainium2-and-neuron-tools §5): name -> type, labels.
AWS = {
    "neuroncore_utilization_ratio": ("gauge", {"neuroncore"}),
    "neuron_runtime_vcpu_usage_ratio": ("gauge", {"usage_type"}),
    "neuron_runtime_memory_used_bytes": ("gauge", {"memory_location"}),
    **{f"neuroncore_memory_usage_{k}": ("gauge", {"neuroncore", "memory_location"})
       for k in ("constants", "model_code", "model_shared_scratchpad", "runtime_memory",
                 "tensors")},
    "execution_errors_total": ("counter", {"error_type"}),
    "execution_status_total": ("counter", {"status_type"}),
    "execution_latency_seconds": ("gauge", {"percentile"}),
    "hardware_ecc_events_total": ("counter", {"event_type", "neuron_device_index"}),
    "system_vcpu_count": ("gauge", set()),
    "system_vcpu_usage_ratio": ("gauge", {"usage_type"}),
    "system_memory_total_bytes": ("gauge", set()),
    "system_memory_used_bytes": ("gauge", set()),
    "system_swap_total_bytes": ("gauge", set()),
    "system_swap_used_bytes": ("gauge", set()),
    "instance_info": ("info", set()),
    "neuron_hardware_info": ("info", {"neuron_device_count", "neuroncore_per_device_count"}),
}
RUNTIME = {"neuroncore_utilization_ratio", "neuron_runtime_vcpu_usage_ratio",
           "neuron_runtime_memory_used_bytes", "execution_errors_total",
           "execution_status_total", "execution_latency_seconds",
           *(n for n in AWS if n.startswith("neuroncore_memory_usage_"))}
BASE = {"instance_name", "instance_id", "instance_type", "availability_zone", "region",
        "subnet_id"}


def test_aws_metrics_keep_aws_names_types_and_labels() -> None:
    assert {m.name for m in AWS_METRICS} == set(AWS)
    for m in AWS_METRICS:
        type_, extra = AWS[m.name]
        assert m.type == type_, m.name
        want = BASE | extra | ({"runtime_tag"} if m.name in RUNTIME else set())
        # The only additions AWS lacks: neuron_device wherever a core or device is involved.
        assert set(m.label_names) - want <= {"neuron_device"}, m.name
        assert want <= set(m.label_names), m.name


def test_prometheus_naming() -> None:
    names = [m.name for m in CATALOG + SELF_METRICS]
    assert len(names) == len(set(names))
    for m in CATALOG + SELF_METRICS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", m.name), m.name
        assert (m.type == "counter") == m.name.endswith("_total"), m.name
        assert m.name.endswith("_info") == (m.type == "info"), m.name
        if m.unit in ("bytes", "seconds", "ratio", "celsius", "watts", "joules") and not (
                m.name.startswith("neuroncore_memory_usage_")):  # AWS's names lack _bytes
            assert m.unit in m.name, m.name
        assert m.help.strip() and "\n" not in m.help
        assert m.name.split("_")[0] in {"neuron", "neuroncore", "neuronlink", "trnmon",
                                        "execution", "hardware", "system", "instance"}
        assert len(set(m.label_names)) == len(m.label_names), m.name


def test_markdown_table_lists_every_metric() -> None:
    table = markdown_table()
    rows = table.splitlines()
    assert len(rows) == 2 + len(CATALOG)
    for m in CATALOG:
        assert f"| `{m.name}` |" in table
    assert "`state`=healthy\\|degraded\\|failed\\|hung\\|lost" in table


def test_only_the_exporter_imports_prometheus_client() -> None:
    root = Path(__file__).resolve().parents[2] / "trnmon"
    allowed = {root / "bench" / "exporter.py"}
    for path in root.rglob("*.py"):
        if "prometheus_client" in path.read_text() and path not in allowed:
            assert path.parent == root / "exporter", path
    assert "prometheus_client" not in (root / "exporter" / "render.py").read_text().replace(
        "never imports prometheus_client", "")


def test_cli_prints_a_node(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "--preset", "tiny", "--seed", "7", "--ticks", "1",
                 "--node", "5"]) == 0
    out = capsys.readouterr().out
    assert 'instance_type="inf2.48xlarge"' in out and out.endswith("\n")
    assert BY_NAME["instance_info"].name in out


def test_cli_unknown_node_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "--preset", "tiny", "--node", "i-0000000000000000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown node" in err
