"""Round trip: emulated node -> neuron-monitor lines -> parser / neuron-top source.

The parsed host must show the engine's numbers: utilization per logical and physical
core, HBM by AWS category, ECC and execution counts over the periods read.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import time

import pytest

from tests.neuron_monitor.conftest import builder, engine
from trnmon.api.models import NodeDetail
from trnmon.api.views import node_detail
from trnmon.neuron_monitor.emulated import EngineFeed, run
from trnmon.neuron_monitor.feed import Ingest
from trnmon.sim import Engine
from trnmon.snapshot import FleetSnapshot
from trnmon.sources.neuron_monitor import NeuronMonitorSource


def emulate(eng: Engine, node: int, n: int) -> tuple[list[str], NodeDetail, NodeDetail]:
    start = node_detail(FleetSnapshot.capture(eng), node)
    out = io.StringIO()
    run(EngineFeed(eng, node), builder(eng, node), out, count=n, interval=5.0,
        wall_per_sim=0.0)
    return out.getvalue().splitlines(), start, node_detail(FleetSnapshot.capture(eng), node)


def counts(d: NodeDetail, attr: str, key: str) -> float:
    return sum(math.floor(getattr(dev, attr)[key] + 1e-6) for dev in d.devices)


def same_numbers(parsed: NodeDetail, start: NodeDetail, end: NodeDetail) -> None:
    assert parsed.instance_id == end.instance_id
    assert (parsed.lnc, parsed.core_version, parsed.logical_cores_per_device) == (
        end.lnc, end.core_version, end.logical_cores_per_device)
    assert len(parsed.devices) == len(end.devices)
    for p, e in zip(parsed.devices, end.devices, strict=True):
        assert [c.utilization for c in p.logical_cores] == pytest.approx(
            [c.utilization for c in e.logical_cores], abs=1e-6)
        assert [c.neuroncore for c in p.logical_cores] == [c.neuroncore for c in e.logical_cores]
        n_phys = len(e.logical_cores) * e.logical_cores[0].physical.__len__()
        assert [c.utilization for c in p.cores] == pytest.approx(
            [c.utilization for c in e.cores[:n_phys]], abs=1e-6)
        assert [c.flops for c in p.logical_cores] == pytest.approx(
            [c.flops for c in e.logical_cores], rel=1e-6)
        if e.job_id:
            for cat, used in e.hbm_used_bytes.items():
                assert p.hbm_used_bytes[cat] == pytest.approx(used, abs=len(p.logical_cores))
        for event in e.ecc:
            assert p.ecc[event] == math.floor(e.ecc[event] + 1e-6) - math.floor(
                start.devices[e.device].ecc[event] + 1e-6)
    for key in ("completed", "timed_out"):
        assert sum(d.execution_status[key] for d in parsed.devices) == pytest.approx(
            counts(end, "execution_status", key) - counts(start, "execution_status", key))
    assert [j.name for j in parsed.jobs] == [j.name for j in end.jobs]


@pytest.mark.parametrize(("node", "lnc"), [(3, 2), (0, 1), (4, 2), (5, 2)])
def test_parser_shows_the_engines_numbers(node: int, lnc: int) -> None:
    eng = engine(lnc=lnc)
    eng.inject("hbm_ecc_corrected", chip=int(eng.topo.node_chips(node)[1]))
    for _ in range(3):
        eng.step()
    lines, start, end = emulate(eng, node, 4)
    ing = Ingest()
    for line in lines:
        assert ing.line(line)
    assert ing.detail is not None and ing.host.malformed_lines == 0
    same_numbers(ing.detail, start, end)
    assert sum(ing.detail.devices[1].ecc.values()) > 0


def test_neuron_top_source_from_a_stream() -> None:
    eng = engine()
    lines, start, end = emulate(eng, 3, 3)
    stream = io.BytesIO(("\n".join(lines[:2]) + "\n{broken\n" + lines[2] + "\n").encode())
    src = NeuronMonitorSource("-", stdin=stream)
    seen: list[int] = []
    src.subscribe(lambda: seen.append(1))
    src.start()
    deadline = time.monotonic() + 10
    while src.feed.ended is None and time.monotonic() < deadline:
        time.sleep(0.01)
    src.stop()
    summary = src.latest()
    assert summary is not None and summary.tick == 3 and seen
    assert "1 malformed" in src.status.text and not src.status.connected
    assert any(e.kind == "malformed_line" for e in summary.events)
    detail = src.node_detail(end.instance_id)
    assert detail is not None and src.node_detail(0) is detail
    same_numbers(detail, start, end)
    hist = src.history(f"{end.instance_id}/nd2")
    assert hist is not None and hist.series["utilization"][-1] == pytest.approx(
        end.devices[2].utilization, abs=1e-6)
    assert src.history("fleet") is not None and src.history("i-other") is None


def test_cli_pipeline_monitor_into_neuron_top_once() -> None:
    mon = subprocess.run([sys.executable, "-m", "trnmon", "monitor", "--preset", "tiny",
                          "--node", "5", "--count", "2", "--speed", "1e4"],
                         capture_output=True, text=True, timeout=60, check=True)
    top = subprocess.run([sys.executable, "-c", "from trnmon.cli.neuron_top import main; "
                          "raise SystemExit(main())", "--neuron-monitor", "-", "--once"],
                         input=mon.stdout.splitlines()[0] + "\n", capture_output=True,
                         text=True, timeout=60)
    assert top.returncode == 0, top.stderr
    iid = json.loads(mon.stdout.splitlines()[0])["instance_info"]["instance_id"]
    assert iid in top.stdout and "inf2.48xlarge" in top.stdout


def test_missing_command_is_one_line() -> None:
    top = subprocess.run([sys.executable, "-c", "from trnmon.cli.neuron_top import main; "
                          "raise SystemExit(main())", "--neuron-monitor",
                          "no-such-neuron-monitor", "--once"],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert top.returncode == 2 and len(top.stderr.strip().splitlines()) == 1, top.stderr
