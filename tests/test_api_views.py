"""The v1 view models: built from snapshots, valid against their own schema, with history."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import preset_config
from trnmon.api import FleetSummary, HistoryBuffer, NodeDetail, fleet_summary, node_detail
from trnmon.api.history import Ring
from trnmon.api.models import Heatmap
from trnmon.api.views import fleet_topology
from trnmon.sim import Engine, FaultKind
from trnmon.snapshot import FleetSnapshot


@pytest.fixture(scope="module")
def snap() -> FleetSnapshot:
    eng = Engine(preset_config("tiny", seed=3))
    for _ in range(5):
        eng.step()
    eng.inject(FaultKind.LINK_DOWN, chip=0, port=0)
    eng.step()
    return FleetSnapshot.capture(eng)


def test_summary_round_trips_through_json(snap: FleetSnapshot) -> None:
    fs = fleet_summary(snap)
    again = FleetSummary.model_validate_json(fs.model_dump_json())
    assert again == fs
    assert fs.totals.chips == 92 and len(fs.nodes) == 6
    assert sum(r.chips for r in fs.nodes) == 92
    assert fs.nodes[0].power_watts == pytest.approx(float(snap.state.power_w[:16].sum()))
    assert {j.job_id for j in fs.jobs} == {i for r in fs.nodes for i in r.job_ids}
    assert fs.faults[0].kind == "link_down" and fs.events[-1].kind == "fault_raised"


def test_node_detail_matches_the_snapshot(snap: FleetSnapshot) -> None:
    nd = NodeDetail.model_validate_json(node_detail(snap, 0).model_dump_json())
    assert nd.core_version == "v3d" and nd.logical_cores_per_device == 4
    dev = nd.devices[0]
    assert [lk.peer_device for lk in dev.links[:4]] == [12, 3, 4, 1]
    assert dev.links[0].state == "down" and dev.health == "degraded"
    assert len(dev.cores) == 8 and len(dev.logical_cores) == 4
    assert dev.logical_cores[1].physical == [2, 3]
    assert dev.logical_cores[1].utilization == pytest.approx(
        float(snap.state.core_util[0, 2:4].mean()), rel=1e-6)
    assert dev.power_watts == pytest.approx(float(snap.state.power_w[0]))
    inf2 = node_detail(snap, 5)
    assert inf2.core_version == "v2" and len(inf2.devices) == 12
    assert len(inf2.devices[0].cores) == 2


def test_heatmap_quantization() -> None:
    values = np.linspace(0, 1, 1000, dtype=np.float32)
    hm = Heatmap.encode({"utilization": values, "temperature": values * 90 + 20})
    assert np.abs(hm.decode("utilization") - values).max() <= 0.5 / 255 + 1e-6
    assert np.abs(hm.decode("temperature") - (values * 90 + 20)).max() <= 90 * 0.5 / 255 + 1e-4


def test_topology_view(snap: FleetSnapshot) -> None:
    topo = fleet_topology(snap.topology)
    assert topo.chips == 92 and topo.nodes[4].first_chip == 64


def test_ring_orders_oldest_first() -> None:
    r = Ring(3, (), np.float64)
    for v in range(5):
        r.push(v)
    assert r.ordered().tolist() == [2.0, 3.0, 4.0]


def test_history_keeps_the_past_and_persists() -> None:
    eng = Engine(preset_config("tiny", seed=3))
    hist = HistoryBuffer(eng.topo, node_window=10, chip_window=4)
    for _ in range(12):
        eng.step()
        hist.record(FleetSnapshot.capture(eng))
    fleet = hist.fleet_series()
    assert fleet.t == [float(t) for t in range(3, 13)]
    node = hist.node_series(0)
    assert len(node.series["power_watts"]) == 10
    dev = hist.device_series(3)
    assert len(dev.t) == 4 and dev.series["temperature_celsius"][-1] == pytest.approx(
        float(eng.state.temp_c[3]), abs=0.1)
    copy = HistoryBuffer(eng.topo, node_window=10, chip_window=4)
    copy.restore(hist.arrays())
    assert copy.node_series(2) == hist.node_series(2)
    with pytest.raises(ValueError):
        HistoryBuffer(eng.topo, node_window=5).restore(hist.arrays())
