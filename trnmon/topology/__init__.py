"""Datacenter topology and the NeuronLink graph, as arrays in topology order."""

from trnmon.topology.fleet import NODES_PER_RACK, Topology, build_topology
from trnmon.topology.neuronlink import MAX_PORTS, PORT_NAMES, PortKind

__all__ = ["MAX_PORTS", "NODES_PER_RACK", "PORT_NAMES", "PortKind", "Topology", "build_topology"]
