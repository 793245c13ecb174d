"""The datacenter topology as arrays in topology order.

region -> AZ -> datacenter -> row -> rack -> UltraServer -> node -> chip -> physical core.
Nodes are numbered so that every rack, UltraServer, row, datacenter and AZ is a contiguous
range of nodes, and chips (and cores) follow their nodes, so any level aggregates with a
reshape or ``np.add.reduceat`` over offsets. Nothing here is a per-device Python object:
a 500,000-chip fleet is a few dozen arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from trnmon.config.model import FleetConfig
from trnmon.hw.catalog import (
    CHIPS,
    INSTANCE_TYPE_BY_NAME,
    INSTANCE_TYPES,
    MAX_EFA_DEVICES,
    MAX_PHYSICAL_CORES,
    ULTRASERVER_NODES,
    InstanceType,
    LinkTopology,
)
from trnmon.hw.lnc import CoreNumbering, core_numbering
from trnmon.topology.ids import (
    fleet_salt,
    format_instance_id,
    instance_id_numbers,
    replacement_id_number,
)
from trnmon.topology.neuronlink import MAX_PORTS, PortKind, wire_ports

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]

# Rack packing: one UltraServer per rack (AWS cables its 4 instances as one unit), else
# how many standalone instances share a rack.
NODES_PER_RACK = {"trn2u.48xlarge": ULTRASERVER_NODES, "trn2.48xlarge": 2,
                  "trn1.32xlarge": 4, "inf2.48xlarge": 4}
_TYPE_INDEX = {t.name: i for i, t in enumerate(INSTANCE_TYPES)}

# PCI buses of devices 0-15 in the order AWS's neuron-ls documentation prints them for a
# Trn2 instance (tools/neuron-sys-tools/neuron-ls.rst); trn1/inf2 reuse the same list.
PCI_BUSES = ("cc", "b5", "b6", "cb", "6f", "58", "59", "6e",
             "9b", "84", "85", "9a", "f8", "e1", "e2", "f7")


@dataclass(frozen=True, eq=False)
class Topology:
    """The fleet's fixed shape as arrays in topology order: AZs, datacenters, rows,
    racks, UltraServers, nodes, chips and NeuronLink ports (a shard: a contiguous part)."""

    fleet_name: str
    region: str
    lnc: int
    az_names: tuple[str, ...]
    az_ids: tuple[str, ...]
    # per rack
    rack_az: I32
    rack_dc: I32  # datacenter index within its AZ
    rack_row: I32  # row index within its datacenter
    rack_pos: I32  # position within its row
    rack_node_start: I64
    # per UltraServer
    ultraserver_node_start: I64
    ultraserver_az: I32
    # per node
    node_type: I8  # index into INSTANCE_TYPES
    node_rack: I32
    node_ultraserver: I32  # -1 for standalone nodes
    node_slot: I8  # position inside its UltraServer, -1 if none
    node_chip_start: I64  # len n_nodes + 1
    node_id_numbers: npt.NDArray[np.uint64]
    # per chip
    chip_node: I32
    chip_local: I32  # neuron_device index inside the node
    chip_kind: I8
    chip_cores: I8  # physical cores
    # NeuronLink ports, (chips, MAX_PORTS)
    port_peer: I32
    port_peer_port: I8
    port_kind: I8
    port_bandwidth: npt.NDArray[np.float32]
    # A shard's sub-topology (`subset`): where its first rack, node, chip and UltraServer
    # sit in the whole fleet, the whole fleet's rack count, and (index from 1, count).
    # Instance ids and labels use global positions, so every shard names its nodes exactly
    # as the unsharded fleet does.
    rack_offset: int = 0
    node_offset: int = 0
    chip_offset: int = 0
    ultraserver_offset: int = 0
    fleet_racks: int = -1  # -1: this topology is the whole fleet
    shard: tuple[int, int] | None = None
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    # --- sizes -------------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return int(self.node_type.shape[0])

    @property
    def n_chips(self) -> int:
        return int(self.chip_node.shape[0])

    @property
    def n_racks(self) -> int:
        return int(self.rack_az.shape[0])

    @property
    def n_ultraservers(self) -> int:
        return int(self.ultraserver_node_start.shape[0])

    @property
    def n_fleet_racks(self) -> int:
        """Racks in the whole fleet (more than `n_racks` for a shard)."""
        return self.n_racks if self.fleet_racks < 0 else self.fleet_racks

    @cached_property
    def core_valid(self) -> npt.NDArray[np.bool_]:
        """(chips, MAX_PHYSICAL_CORES): which core slots exist (Trn1/Inf2 use 2 of 8)."""
        return np.arange(MAX_PHYSICAL_CORES)[None, :] < self.chip_cores[:, None]

    @cached_property
    def port_valid(self) -> npt.NDArray[np.bool_]:
        return self.port_peer >= 0

    @cached_property
    def node_efa_devices(self) -> I32:
        """EFA devices of each node (its instance type's; 0 on inf2)."""
        per_type = np.array([t.efa_ports for t in INSTANCE_TYPES], dtype=np.int32)
        result: I32 = per_type[self.node_type]
        return result

    @cached_property
    def efa_valid(self) -> npt.NDArray[np.bool_]:
        """(nodes, MAX_EFA_DEVICES): which EFA device slots a node has."""
        return np.arange(MAX_EFA_DEVICES)[None, :] < self.node_efa_devices[:, None]

    @cached_property
    def node_az(self) -> I32:
        return self.rack_az[self.node_rack]

    @cached_property
    def chip_count_per_node(self) -> I64:
        return np.diff(self.node_chip_start)

    # --- node naming ---------------------------------------------------------------------
    def instance_type(self, node: int) -> InstanceType:
        return INSTANCE_TYPES[int(self.node_type[node])]

    def instance_id(self, node: int, generation: int = 0) -> str:
        """The node's EC2 instance id; `generation` > 0 names its generation-th replacement
        (a drained node comes back as a new instance: trnmon/sim/faults.py)."""
        return format_instance_id(replacement_id_number(int(self.node_id_numbers[node]),
                                                        generation))

    @cached_property
    def instance_ids(self) -> tuple[str, ...]:
        return tuple(format_instance_id(int(x)) for x in self.node_id_numbers)

    def node_index(self, key: str) -> int:
        """Node index from an instance id, or a decimal node index; KeyError if unknown."""
        if not self._index:
            self._index.update({iid: i for i, iid in enumerate(self.instance_ids)})
        if key in self._index:
            return self._index[key]
        if key.isascii() and key.isdigit() and len(key) <= 18 and int(key) < self.n_nodes:
            return int(key)
        raise KeyError(key)

    def datacenter_label(self, rack: int) -> str:
        return f"{self.az_ids[self.rack_az[rack]]}-dc{self.rack_dc[rack] + 1}"

    def row_label(self, rack: int) -> str:
        return f"{self.datacenter_label(rack)}-row{self.rack_row[rack] + 1:02d}"

    def rack_label(self, rack: int) -> str:
        return f"{self.row_label(rack)}-rack{self.rack_pos[rack] + 1:02d}"

    def ultraserver_label(self, us: int) -> str:
        if us < 0:
            return ""
        return f"{self.az_ids[self.ultraserver_az[us]]}-us{us + self.ultraserver_offset + 1:05d}"

    def location(self, node: int) -> dict[str, str]:
        """Target labels for one node, as service discovery sets them."""
        rack = int(self.node_rack[node])
        az = int(self.rack_az[rack])
        return {
            "region": self.region,
            "availability_zone": self.az_names[az],
            "availability_zone_id": self.az_ids[az],
            "datacenter": self.datacenter_label(rack),
            "row": self.row_label(rack),
            "rack": self.rack_label(rack),
            "ultraserver": self.ultraserver_label(int(self.node_ultraserver[node])),
            "instance_type": self.instance_type(node).name,
        }

    # --- devices -------------------------------------------------------------------------
    def node_chips(self, node: int) -> range:
        return range(int(self.node_chip_start[node]), int(self.node_chip_start[node + 1]))

    def numbering(self, node: int) -> CoreNumbering:
        return core_numbering(self.instance_type(node).chip_spec, self.lnc)

    def connected_devices(self, chip: int) -> list[int]:
        """Peers inside the node as neuron_device indices, in neuron-ls order."""
        intra = self.port_kind[chip] == PortKind.INTRA_NODE
        return [int(self.chip_local[p]) for p in self.port_peer[chip][intra]]

    def ultraserver_peers(self, chip: int) -> list[tuple[int, int]]:
        """(node, device) of the chip's peers on the other nodes of its UltraServer."""
        ring = self.port_kind[chip] == PortKind.ULTRASERVER
        return [(int(self.chip_node[p]), int(self.chip_local[p]))
                for p in self.port_peer[chip][ring]]

    def pci_bdf(self, local: int) -> str:
        return f"0000:{PCI_BUSES[local % len(PCI_BUSES)]}:00.0"

    def links(self) -> dict[str, npt.NDArray[np.generic]]:
        """Every directed NeuronLink: id, source chip, destination chip, kind, bandwidth."""
        chip, port = np.nonzero(self.port_valid)
        return {
            "id": (chip * MAX_PORTS + port).astype(np.int64),
            "src": chip.astype(np.int32),
            "dst": self.port_peer[chip, port],
            "kind": self.port_kind[chip, port],
            "bandwidth": self.port_bandwidth[chip, port],
        }


def _layout_zone(
    nodes: dict[str, int], datacenters: int
) -> tuple[list[tuple[int, int]], list[int]]:
    """Racks of one AZ as (type index, node count), UltraServers first, and each rack's
    datacenter (racks split into contiguous, near-equal datacenter blocks)."""
    racks: list[tuple[int, int]] = []
    for type_name, count in nodes.items():
        per = NODES_PER_RACK[type_name]
        full, rest = divmod(count, per)
        racks += [(_TYPE_INDEX[type_name], per)] * full
        if rest:
            racks.append((_TYPE_INDEX[type_name], rest))
    n = len(racks)
    dc = [i * datacenters // max(n, 1) for i in range(n)]
    return racks, dc


def build_topology(config: FleetConfig) -> Topology:
    rack_type: list[int] = []
    rack_nodes: list[int] = []
    rack_az: list[int] = []
    rack_dc: list[int] = []
    rack_row: list[int] = []
    rack_pos: list[int] = []
    for a, az in enumerate(config.availability_zones):
        mix = {
            "trn2u.48xlarge": az.nodes.ultraservers * ULTRASERVER_NODES,
            "trn2.48xlarge": az.nodes.trn2,
            "trn1.32xlarge": az.nodes.trn1,
            "inf2.48xlarge": az.nodes.inf2,
        }
        racks, dcs = _layout_zone(mix, az.datacenters)
        local = 0
        for (t, count), dc in zip(racks, dcs, strict=True):
            if rack_dc and rack_az[-1] == a and rack_dc[-1] != dc:
                local = 0  # numbering restarts in each datacenter
            rack_type.append(t)
            rack_nodes.append(count)
            rack_az.append(a)
            rack_dc.append(dc)
            rack_row.append(local // az.racks_per_row)
            rack_pos.append(local % az.racks_per_row)
            local += 1

    r_type = np.array(rack_type, dtype=np.int8)
    r_nodes = np.array(rack_nodes, dtype=np.int64)
    rack_node_start = np.concatenate([[0], np.cumsum(r_nodes)]).astype(np.int64)
    n_nodes = int(rack_node_start[-1])

    node_rack = np.repeat(np.arange(len(rack_type), dtype=np.int32), r_nodes)
    node_type = r_type[node_rack]
    is_us = node_type == _TYPE_INDEX["trn2u.48xlarge"]
    # Every UltraServer rack holds exactly 4 trn2u nodes (NODES_PER_RACK), so slots are
    # the offset inside the rack.
    node_slot = np.where(
        is_us, np.arange(n_nodes) - rack_node_start[node_rack], -1).astype(np.int8)
    us_starts = np.flatnonzero(is_us & (node_slot == 0)).astype(np.int64)
    node_us = np.full(n_nodes, -1, dtype=np.int32)
    node_us[is_us] = np.repeat(np.arange(us_starts.shape[0], dtype=np.int32), ULTRASERVER_NODES)

    chips_per_type = np.array([t.chips for t in INSTANCE_TYPES], dtype=np.int64)
    node_chips = chips_per_type[node_type]
    node_chip_start = np.concatenate([[0], np.cumsum(node_chips)]).astype(np.int64)
    n_chips = int(node_chip_start[-1])
    chip_node = np.repeat(np.arange(n_nodes, dtype=np.int32), node_chips)
    chip_local = (np.arange(n_chips, dtype=np.int64) - node_chip_start[chip_node]).astype(np.int32)
    kind_per_type = np.array([int(t.chip) for t in INSTANCE_TYPES], dtype=np.int8)
    chip_kind = kind_per_type[node_type[chip_node]]
    cores_per_kind = np.array([CHIPS[k].physical_cores for k in sorted(CHIPS)], dtype=np.int8)
    chip_cores = cores_per_kind[chip_kind]
    torus_type = np.array([t.link_topology == LinkTopology.TORUS_4X4 for t in INSTANCE_TYPES])

    peer, peer_port, kind, bw = wire_ports(
        chip_node, chip_local, chip_kind, node_chip_start,
        node_chips.astype(np.int32), torus_type[node_type], node_slot,
    )
    rack_az_arr = np.array(rack_az, dtype=np.int32)
    return Topology(
        fleet_name=config.name,
        region=config.region,
        lnc=config.lnc,
        az_names=tuple(az.name for az in config.availability_zones),
        az_ids=tuple(az.zone_id for az in config.availability_zones),
        rack_az=rack_az_arr,
        rack_dc=np.array(rack_dc, dtype=np.int32),
        rack_row=np.array(rack_row, dtype=np.int32),
        rack_pos=np.array(rack_pos, dtype=np.int32),
        rack_node_start=rack_node_start,
        ultraserver_node_start=us_starts,
        ultraserver_az=rack_az_arr[node_rack[us_starts]],
        node_type=node_type,
        node_rack=node_rack,
        node_ultraserver=node_us,
        node_slot=node_slot,
        node_chip_start=node_chip_start,
        node_id_numbers=instance_id_numbers(fleet_salt(config.region, config.name), n_nodes),
        chip_node=chip_node,
        chip_local=chip_local,
        chip_kind=chip_kind,
        chip_cores=chip_cores,
        port_peer=peer,
        port_peer_port=peer_port,
        port_kind=kind,
        port_bandwidth=bw,
    )


def subset(topo: Topology, rack_lo: int, rack_hi: int,
           shard: tuple[int, int] | None = None) -> Topology:
    """The sub-topology of racks [rack_lo, rack_hi) of a whole fleet: arrays sliced and
    re-based to local indices, instance ids and labels kept global (see the offsets)."""
    if topo.fleet_racks >= 0:
        raise ValueError("subset of a subset")
    if not 0 <= rack_lo < rack_hi <= topo.n_racks:
        raise ValueError(f"racks [{rack_lo}, {rack_hi}) outside 0..{topo.n_racks}")
    n0, n1 = int(topo.rack_node_start[rack_lo]), int(topo.rack_node_start[rack_hi])
    c0, c1 = int(topo.node_chip_start[n0]), int(topo.node_chip_start[n1])
    us = topo.ultraserver_node_start
    u0, u1 = int(np.searchsorted(us, n0)), int(np.searchsorted(us, n1))
    node_us = topo.node_ultraserver[n0:n1]
    peer = topo.port_peer[c0:c1]
    return Topology(
        fleet_name=topo.fleet_name, region=topo.region, lnc=topo.lnc,
        az_names=topo.az_names, az_ids=topo.az_ids,
        rack_az=topo.rack_az[rack_lo:rack_hi].copy(),
        rack_dc=topo.rack_dc[rack_lo:rack_hi].copy(),
        rack_row=topo.rack_row[rack_lo:rack_hi].copy(),
        rack_pos=topo.rack_pos[rack_lo:rack_hi].copy(),
        rack_node_start=(topo.rack_node_start[rack_lo:rack_hi + 1] - n0).astype(np.int64),
        ultraserver_node_start=(us[u0:u1] - n0).astype(np.int64),
        ultraserver_az=topo.ultraserver_az[u0:u1].copy(),
        node_type=topo.node_type[n0:n1].copy(),
        node_rack=(topo.node_rack[n0:n1] - rack_lo).astype(np.int32),
        node_ultraserver=np.where(node_us >= 0, node_us - u0, -1).astype(np.int32),
        node_slot=topo.node_slot[n0:n1].copy(),
        node_chip_start=(topo.node_chip_start[n0:n1 + 1] - c0).astype(np.int64),
        node_id_numbers=topo.node_id_numbers[n0:n1].copy(),
        chip_node=(topo.chip_node[c0:c1] - n0).astype(np.int32),
        chip_local=topo.chip_local[c0:c1].copy(),
        chip_kind=topo.chip_kind[c0:c1].copy(),
        chip_cores=topo.chip_cores[c0:c1].copy(),
        # NeuronLink peers never leave an UltraServer (one rack), so none leaves the slice.
        port_peer=np.where(peer >= 0, peer - c0, -1).astype(np.int32),
        port_peer_port=topo.port_peer_port[c0:c1].copy(),
        port_kind=topo.port_kind[c0:c1].copy(),
        port_bandwidth=topo.port_bandwidth[c0:c1].copy(),
        rack_offset=rack_lo, node_offset=n0, chip_offset=c0, ultraserver_offset=u0,
        fleet_racks=topo.n_racks, shard=shard,
    )


def instance_type_index(name: str) -> int:
    return _TYPE_INDEX[INSTANCE_TYPE_BY_NAME[name].name]
