from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import preset_config
from trnmon.config import PRESETS
from trnmon.topology import MAX_PORTS, PortKind, Topology, build_topology
from trnmon.topology.neuronlink import TRN2_INTRA_PORT_BW, TRN2_ULTRASERVER_PORT_BW


def _grid_neighbours(d: int) -> list[int]:
    r, c = divmod(d, 4)
    return [((r - 1) % 4) * 4 + c, r * 4 + (c - 1) % 4, ((r + 1) % 4) * 4 + c, r * 4 + (c + 1) % 4]


def test_torus_neighbours_for_every_chip(ohio_topology: Topology) -> None:
    topo = ohio_topology
    checked = 0
    for node in range(topo.n_nodes):
        if topo.instance_type(node).name == "inf2.48xlarge":
            continue
        for chip in topo.node_chips(node):
            local = int(topo.chip_local[chip])
            assert topo.connected_devices(chip) == _grid_neighbours(local)
            checked += 1
    assert checked == topo.n_chips - 3 * 12  # every chip but the three inf2 nodes'
    first = topo.node_chips(0)[0]
    assert topo.connected_devices(first) == [12, 3, 4, 1]
    assert topo.connected_devices(first + 4) == [0, 7, 8, 5]


def test_inferentia2_ring(tiny_topology: Topology) -> None:
    inf2 = next(n for n in range(tiny_topology.n_nodes)
                if tiny_topology.instance_type(n).name == "inf2.48xlarge")
    for chip in tiny_topology.node_chips(inf2):
        d = int(tiny_topology.chip_local[chip])
        assert tiny_topology.connected_devices(chip) == [(d - 1) % 12, (d + 1) % 12]


def test_ultraserver_ring_gives_six_neighbours(tiny_topology: Topology) -> None:
    topo = tiny_topology
    us_nodes = [n for n in range(topo.n_nodes) if topo.node_ultraserver[n] == 0]
    assert len(us_nodes) == 4
    for slot, node in enumerate(us_nodes):
        for chip in topo.node_chips(node):
            peers = topo.port_peer[chip]
            assert (peers >= 0).sum() == 6
            d = int(topo.chip_local[chip])
            ring = topo.ultraserver_peers(chip)
            assert ring == [(us_nodes[(slot - 1) % 4], d), (us_nodes[(slot + 1) % 4], d)]
    # standalone nodes have no UltraServer ports
    assert (topo.port_kind[topo.chip_node >= 4] != PortKind.ULTRASERVER).all()


def test_links_are_symmetric_with_bandwidth(ohio_topology: Topology) -> None:
    topo = ohio_topology
    chip, port = np.nonzero(topo.port_valid)
    peer = topo.port_peer[chip, port]
    back = topo.port_peer_port[chip, port]
    assert (topo.port_peer[peer, back] == chip).all()  # reverse link points back
    assert (topo.port_bandwidth[chip, port] > 0).all()
    links = topo.links()
    assert len(links["id"]) == len(set(links["id"].tolist()))
    assert (links["id"] // MAX_PORTS == links["src"]).all()
    trn2u_intra = (topo.port_kind == PortKind.INTRA_NODE) & (topo.chip_kind == 0)[:, None]
    assert np.allclose(topo.port_bandwidth[trn2u_intra], TRN2_INTRA_PORT_BW)
    assert np.allclose(topo.port_bandwidth[topo.port_kind == PortKind.ULTRASERVER],
                       TRN2_ULTRASERVER_PORT_BW)
    # Trn2 per-chip NeuronLink: 4 x 256 GB/s + 2 x 128 GB/s = 1.28 TB/s
    us_chip = 0
    assert topo.port_bandwidth[us_chip].sum() == pytest.approx(1.28e12)


def test_topology_order_is_contiguous(ohio_topology: Topology) -> None:
    topo = ohio_topology
    # chips follow nodes, nodes follow racks, racks follow AZ/datacenter/row
    assert (np.diff(topo.chip_node) >= 0).all()
    assert (np.diff(topo.node_rack) >= 0).all()
    key = topo.rack_az * 10**6 + topo.rack_dc * 10**4 + topo.rack_row * 100 + topo.rack_pos
    assert (np.diff(key) > 0).all()
    counts = np.diff(topo.node_chip_start)
    assert counts.sum() == topo.n_chips
    # aggregation by reduceat over node offsets works
    ones = np.ones(topo.n_chips)
    assert (np.add.reduceat(ones, topo.node_chip_start[:-1]) == counts).all()
    # UltraServers are 4 consecutive trn2u nodes in one rack
    for us, start in enumerate(topo.ultraserver_node_start):
        nodes = range(int(start), int(start) + 4)
        assert [int(topo.node_ultraserver[n]) for n in nodes] == [us] * 4
        assert len({int(topo.node_rack[n]) for n in nodes}) == 1


@pytest.mark.parametrize(("name", "chips", "nodes"), [
    ("tiny", 92, 6), ("ohio", 756, 48), ("ultraserver", 64, 4),
    ("ultracluster-40k", 40_000, 2_500), ("rainier-500k", 500_000, 31_250),
])
def test_preset_sizes(name: str, chips: int, nodes: int) -> None:
    topo = build_topology(preset_config(name))
    assert (topo.n_chips, topo.n_nodes) == (chips, nodes)
    assert len(set(topo.node_id_numbers.tolist())) == nodes


def test_ohio_is_a_mixed_two_az_fleet(ohio_topology: Topology) -> None:
    types = {ohio_topology.instance_type(n).name for n in range(ohio_topology.n_nodes)}
    assert types == {"trn2u.48xlarge", "trn2.48xlarge", "trn1.32xlarge", "inf2.48xlarge"}
    assert ohio_topology.az_ids == ("use2-az1", "use2-az2")
    assert 700 <= ohio_topology.n_chips <= 800


def test_ids_are_stable_across_runs_and_seeds() -> None:
    a = build_topology(preset_config("ohio", seed=1))
    b = build_topology(preset_config("ohio", seed=99))
    assert a.instance_ids == b.instance_ids
    assert all(i.startswith("i-0") and len(i) == 19 for i in a.instance_ids)
    # pinned: a change here renames every instance in users' dashboards
    assert a.instance_ids[0] == "i-08652283fe26d6355"
    other = build_topology(preset_config("tiny"))
    assert not set(other.instance_ids) & set(a.instance_ids)


def test_node_lookup(tiny_topology: Topology) -> None:
    iid = tiny_topology.instance_id(3)
    assert tiny_topology.node_index(iid) == 3
    assert tiny_topology.node_index("2") == 2
    with pytest.raises(KeyError):
        tiny_topology.node_index("i-0000000000000000")
    with pytest.raises(KeyError):
        tiny_topology.node_index("999")


def test_location_labels(tiny_topology: Topology) -> None:
    loc = tiny_topology.location(0)
    assert loc["region"] == "us-east-2" and loc["availability_zone"] == "us-east-2a"
    assert loc["ultraserver"] and loc["instance_type"] == "trn2u.48xlarge"
    assert tiny_topology.location(4)["ultraserver"] == ""


def test_core_slots(tiny_topology: Topology) -> None:
    valid = tiny_topology.core_valid
    assert valid.shape == (92, 8)
    assert valid[:64].all() and valid[64:, :2].all() and not valid[64:, 2:].any()


def test_all_presets_build() -> None:
    for name in PRESETS:
        assert build_topology(preset_config(name)).n_chips > 0
