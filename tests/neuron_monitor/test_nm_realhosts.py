"""Issue 15: real Trainium hosts, exactly. Multi-runtime reports (every runtime lists
every core), `ultraserver_id`, `effective_flops`, `null` latency groups, groups with
errors, trn1n captures without `neuron_device_memory_size`, idle hosts, and the exporter
process (exact numbers, SIGTERM). The fixtures come from `fixtures/generate.py`; the AWS
oracle (`aws_reference.py`) is AWS's documented metric mapping.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest_prometheus import PROMETHEUS
from tests.neuron_monitor.aws_reference import parse_exposition, samples
from tests.neuron_monitor.conftest import FIXTURES, fixture_line
from tests.neuron_monitor.fixtures.generate import FIXTURES as GENERATED
from tests.server_process import free_port
from trnmon.neuron_monitor.exposition import HostExposition
from trnmon.neuron_monitor.feed import Ingest

MULTI = ("trn1n_32_runtimes", "inf2_effective_flops", "trn2u_ultraserver")
# Not legacy_1x: AWS's current script ignores Neuron 1.x group names (trnmon maps them).
ALL = (*MULTI, "trn1", "trn2_lnc2", "inf2", "idle")
OURS_ONLY = ("neuron_device",)  # trnmon's extra label on core and device series


def ingest(*lines: str) -> Ingest:
    ing = Ingest()
    for line in lines:
        ing.line(line)
    return ing


def render(*lines: str, idle_zeros: bool = False) -> str:
    return HostExposition(idle_zeros=idle_zeros).render(ingest(*lines).host)


def values(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in parse_exposition(text, {name}).items() if n == name}


def label(labels: frozenset[tuple[str, str]], key: str) -> str:
    return dict(labels)[key]


def test_fixtures_on_disk_are_the_generators_output() -> None:
    for name, build in GENERATED.items():
        assert json.loads((FIXTURES / f"{name}.json").read_text()) == build()


# --- AWS's mapping, value for value ----------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_exporter_equals_aws_mapping(name: str) -> None:
    """Same families, labels and values as AWS's documented mapping (trnmon's extension
    families and its `neuron_device` label aside), over two lines so counters add."""
    lines = [fixture_line(name)] * 2
    aws = samples([json.loads(line) for line in lines])
    families = {n for n, _ in aws}
    ours = parse_exposition(render(*lines), families | {"instance_info"}, drop=OURS_ONLY)
    assert {n for n, _ in ours} == families
    assert ours == aws
    series = [ln.rpartition(" ")[0] for ln in render(*lines).splitlines()
              if ln and not ln.startswith("#")]
    assert len(series) == len(set(series))  # no two samples share a label set


def test_exporter_equals_aws_mapping_over_a_changing_stream() -> None:
    """Runtimes come and go; latency goes null and keeps its last value."""
    trn1n = json.loads(fixture_line("trn1n_32_runtimes"))
    later = json.loads(fixture_line("trn1n_32_runtimes"))
    for rt in later["neuron_runtime_data"]:
        rt["report"]["execution_stats"]["latency_stats"] = {"total_latency": None,
                                                            "device_latency": None}
    docs = [trn1n, later, later]
    aws = samples(docs)
    ours = parse_exposition(render(*(json.dumps(d) for d in docs)), {n for n, _ in aws},
                            drop=OURS_ONLY)
    assert ours == aws


# --- 1. every runtime lists every core -----------------------------------------------------
def test_32_one_core_runtimes_sum_to_4_96() -> None:
    text = render(fixture_line("trn1n_32_runtimes"))
    util = values(text, "neuroncore_utilization_ratio")
    assert len(util) == 32 * 32  # one series per (runtime, core), as AWS exports
    assert math.fsum(util.values()) == 4.96
    for labels, v in util.items():
        k = int(label(labels, "runtime_tag").removeprefix("rt-"))
        core = int(label(labels, "neuroncore"))
        assert v == (k / 100 if core == k else 0.0)
    busy = {label(lb, "neuroncore"): label(lb, "runtime_tag") for lb, v in util.items() if v}
    assert busy["31"] == "rt-31" and len(busy) == 31  # core 0 is at 0 % under rt-00
    memory = values(text, "neuroncore_memory_usage_tensors")
    assert len(memory) == 32 * 32
    assert {label(lb, "neuroncore"): label(lb, "runtime_tag")
            for lb, v in memory.items() if v} == {str(k): f"rt-{k:02d}" for k in range(32)}


def test_runtime_order_does_not_move_a_core() -> None:
    doc = json.loads(fixture_line("trn1n_32_runtimes"))
    swapped = dict(doc, neuron_runtime_data=doc["neuron_runtime_data"][::-1])
    a = render(json.dumps(doc))
    b = render(json.dumps(swapped))
    assert values(a, "neuroncore_utilization_ratio") == values(b, "neuroncore_utilization_ratio")
    detail = ingest(json.dumps(swapped)).detail
    assert detail is not None
    assert detail.devices[15].logical_cores[1].utilization == 0.31  # core 31 at 31 %


NEURON_TOP = "from trnmon.cli.neuron_top import main\nraise SystemExit(main())"


def run_once(name: str) -> list[str]:
    r = subprocess.run([sys.executable, "-c", NEURON_TOP, "--neuron-monitor", "-", "--once"],
                       input=fixture_line(name) + "\n", capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_neuron_top_once_reports_15_5_percent() -> None:
    summary, header, row = run_once("trn1n_32_runtimes")
    assert " util 15.5% " in summary
    fields = dict(zip(header.split("\t"), row.split("\t"), strict=True))
    assert fields["UTIL"] == "0.155" and fields["TYPE"] == "trn1n.32xlarge"
    # 6. no neuron_device_memory_size: HBM is still a ratio of the chip's 32 GiB x 16
    assert "/512.0 GiB" in summary
    assert 0 < float(fields["HBM_USED"]) < 1


def test_host_view_sums_runtimes_per_core_and_lists_processes() -> None:
    detail = ingest(fixture_line("trn1n_32_runtimes")).detail
    assert detail is not None
    utils = [lc.utilization for d in detail.devices for lc in d.logical_cores]
    assert utils == [k / 100 for k in range(32)]
    assert detail.devices[0].hbm_total_bytes == 32 * 2**30
    assert len(detail.processes) == 32
    p7 = next(p for p in detail.processes if p.runtime_tag == "rt-07")
    assert (p7.pid, p7.neuroncores, p7.devices, p7.utilization) == (20107, [7], [3], 0.07)
    assert p7.hbm_used_bytes == sum(json.loads(fixture_line("trn1n_32_runtimes"))
                                    ["neuron_runtime_data"][7]["report"]["memory_used"]
                                    ["neuron_runtime_used_bytes"]["neuron_device"] for _ in [0])
    assert detail.devices[3].job_id == next(j.job_id for j in detail.jobs if j.name == "rt-07")


# --- 2. ultraserver_id ---------------------------------------------------------------------
def test_ultraserver_id_is_on_every_family() -> None:
    text = render(fixture_line("trn2u_ultraserver"))
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    families = {ln.split("{")[0] for ln in lines}
    assert {"instance_info", "neuron_hardware_info", "neuroncore_utilization_ratio",
            "neuroncore_flops", "neuron_device_hbm_used_bytes",
            "hardware_ecc_events_total"} <= families
    assert all('ultraserver_id="u-cafb07773a569a23"' in ln for ln in lines)
    plain = render(fixture_line("trn1n_32_runtimes"))
    assert "ultraserver_id" not in plain
    detail = ingest(fixture_line("trn2u_ultraserver")).detail
    assert detail is not None and detail.location.ultraserver == "u-cafb07773a569a23"


# --- 3. effective_flops ----------------------------------------------------------------------
def test_neuroncore_flops_from_effective_flops() -> None:
    flops = values(render(fixture_line("inf2_effective_flops")), "neuroncore_flops")
    by = {int(label(lb, "neuroncore")): v for lb, v in flops.items()}  # per core, summed
    assert len(by) == 24 and all(v > 0 for v in by.values())
    assert by[0] == 3.9e13 * 55.5 / 100  # bert-serve reports only effective_flops
    assert by[8] == 3.9e13 * 71.25 / 100  # llama-serve reports both: effective_flops wins
    assert by[20] == 4.5e13 * 12.0 / 100  # sd-serve reports only flops


# --- 4. null latency -------------------------------------------------------------------------
def test_null_latency_group_exports_no_series() -> None:
    text = render(fixture_line("trn1n_32_runtimes"))
    latency = values(text, "execution_latency_seconds")
    tags = {label(lb, "runtime_tag") for lb in latency}
    assert tags == {f"rt-{k:02d}" for k in range(0, 32, 2)}  # odd runtimes ran nothing
    assert not [v for v in latency.values() if v == 0]
    trn2u = values(render(fixture_line("trn2u_ultraserver")), "execution_latency_seconds")
    assert {label(lb, "runtime_tag") for lb in trn2u} == {"train-a"}


def test_null_latency_keeps_the_last_value() -> None:
    doc = json.loads(fixture_line("trn2u_ultraserver"))
    first = values(render(json.dumps(doc)), "execution_latency_seconds")
    doc["neuron_runtime_data"][0]["report"]["execution_stats"]["latency_stats"] = {
        "total_latency": None, "device_latency": None}
    assert values(render(fixture_line("trn2u_ultraserver"), json.dumps(doc)),
                  "execution_latency_seconds") == first


# --- 5. groups and runtimes with errors ------------------------------------------------------
def test_groups_with_errors_are_not_used() -> None:
    text = render(fixture_line("inf2_effective_flops"))
    memory = values(text, "neuron_runtime_memory_used_bytes")
    assert {label(lb, "runtime_tag") for lb in memory} == {"bert-serve", "llama-serve"}
    tensors = values(text, "neuroncore_memory_usage_tensors")
    assert "sd-serve" not in {label(lb, "runtime_tag") for lb in tensors}
    trn2u = render(fixture_line("trn2u_ultraserver"))
    assert 'runtime_tag="probe"' not in trn2u  # the runtime reported an error
    assert "system_memory_total_bytes" not in trn2u  # memory_info reported an error
    assert "system_vcpu_usage_ratio" in trn2u
    events = ingest(fixture_line("trn2u_ultraserver")).host.events
    assert any("failed to read /proc/meminfo" in e.text for e in events)


# --- 7. idle hosts ---------------------------------------------------------------------------
def test_idle_zero_series_only_behind_the_option() -> None:
    assert 'runtime_tag="none"' not in render(fixture_line("idle"))
    zeros = render(fixture_line("idle"), idle_zeros=True)
    util = values(zeros, "neuroncore_utilization_ratio")
    assert util and all(label(lb, "runtime_tag") == "none" and v == 0 for lb, v in util.items())
    assert "execution_latency_seconds{" not in zeros


# --- 9. the exporter process -----------------------------------------------------------------
def test_samples_print_integers_exactly_and_floats_round_trip() -> None:
    doc = json.loads(fixture_line("trn1"))
    doc["system_data"]["memory_info"]["memory_used_bytes"] = 2206249984
    text = render(json.dumps(doc))
    assert "system_memory_used_bytes{" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("system_memory_used_bytes{"))
    assert line.endswith(" 2206249984")
    for ln in text.splitlines():
        if ln and not ln.startswith("#"):
            value = ln.rpartition(" ")[2]
            assert value == str(int(float(value))) or value == repr(float(value)), ln


@pytest.mark.parametrize("name", MULTI)
def test_promtool_accepts_multi_runtime_expositions(name: str) -> None:
    promtool = Path(PROMETHEUS).with_name("promtool")
    if not promtool.exists():
        pytest.skip("promtool is not installed")
    r = subprocess.run([str(promtool), "check", "metrics"], input=render(fixture_line(name)),
                       capture_output=True, text=True, timeout=30)
    problems = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    assert all("system_vcpu_count" in p for p in problems), problems  # AWS's own name


@pytest.mark.slow
def test_exporter_exits_0_on_sigterm_and_logs_errors_once(tmp_path: Path) -> None:
    port = free_port()
    feed = tmp_path / "feed.sh"
    line = fixture_line("trn2u_ultraserver")
    (tmp_path / "line.json").write_text(line + "\n")
    # A stand-in for neuron-monitor: three reports, then it keeps running.
    feed.write_text(f"cat {tmp_path / 'line.json'} {tmp_path / 'line.json'} "
                    f"{tmp_path / 'line.json'}\nexec sleep 60\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trnmon", "exporter", "--neuron-monitor", f"sh {feed}",
         "--listen", f"127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        import urllib.request

        deadline = time.monotonic() + 30
        body = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body = r.read().decode()
                if "execution_status_total" in body and 'completed"} 36' in body:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert 'status_type="completed"} 36' in body  # 3 lines x 12, an exact integer
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert err.count("failed to read /proc/meminfo") == 1, err
    assert err.count("failed to connect to the runtime") == 1, err
