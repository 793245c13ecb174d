"""The `instance_info` fields of an emulated node that its NodeDetail does not carry.

The exporter (trnmon/exporter/layout.py) labels a node with an instance_name and a
subnet_id made from the fleet's names; these helpers make the same values from a
Topology (embedded engine, the daemon's own route) or from the daemon's topology JSON
(`trnmon monitor --connect`), so both paths label a node alike. Members of a Trn2
UltraServer also get an `ultraserver_id` shaped like AWS's (`u-` and 16 hex digits).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from trnmon.api.models import FleetTopology
from trnmon.topology import Topology


@dataclass(frozen=True, slots=True)
class Identity:
    """instance_info fields the NodeDetail does not carry."""

    instance_name: str
    subnet_id: str
    ami_id: str = ""
    ultraserver_id: str = ""  # empty: not an UltraServer member (the key is left out)

    @staticmethod
    def ami_for(region: str) -> str:
        return "ami-" + hashlib.blake2b(f"trnmon/{region}".encode(), digest_size=9
                                         ).hexdigest()[:17]


def subnet_id(region: str, fleet: str, az: int) -> str:
    """`trnmon.exporter.layout.subnet_id` from names alone (a daemon's topology JSON)."""
    digest = hashlib.blake2b(f"{region}/{fleet}/{az}".encode(), digest_size=9).hexdigest()
    return f"subnet-{digest[:17]}"


def ultraserver_id(region: str, fleet: str, label: str) -> str:
    """AWS's UltraServer id shape (`u-cafb07773a569a23`) for trnmon's UltraServer label;
    "" for a node outside any UltraServer."""
    if not label:
        return ""
    return "u-" + hashlib.blake2b(f"{region}/{fleet}/{label}".encode(), digest_size=8
                                  ).hexdigest()


def topology_identity(topo: Topology, node: int) -> Identity:
    """A node's identity from the topology (embedded engine, the daemon's own route)."""
    az = int(topo.node_az[node])
    label = topo.ultraserver_label(int(topo.node_ultraserver[node]))
    return Identity(instance_name=f"{topo.fleet_name}-{node:05d}",
                    subnet_id=subnet_id(topo.region, topo.fleet_name, az),
                    ami_id=Identity.ami_for(topo.region),
                    ultraserver_id=ultraserver_id(topo.region, topo.fleet_name, label))


def json_identity(topo: FleetTopology, index: int) -> Identity:
    """The same identity from a daemon's `/api/v1/topology` (AZs numbered in order of
    first appearance, as the topology numbers them)."""
    azs = list(dict.fromkeys(n.location.availability_zone for n in topo.nodes))
    loc = topo.nodes[index].location
    return Identity(instance_name=f"{topo.fleet}-{index:05d}",
                    subnet_id=subnet_id(topo.region, topo.fleet,
                                        azs.index(loc.availability_zone)),
                    ami_id=Identity.ami_for(topo.region),
                    ultraserver_id=ultraserver_id(topo.region, topo.fleet, loc.ultraserver))
