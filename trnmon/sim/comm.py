"""Collective communication cost over the links a placement actually uses.

A collective group spans `chips_per_node` chips of one instance (NeuronLink torus or ring),
`ring_nodes` instances of one UltraServer (the NeuronLink ring across its 4 instances) and
`efa_nodes` groups of those over EFA. Collectives are hierarchical, as the Neuron runtime
runs them (collectives.rst: reduce inside the node first, then across nodes): each stage
costs latency + bytes / (bandwidth x efficiency), the stages add up.

- Latency: each algorithm step costs one hop. Inside an instance a hop is 1-2 us (H3,
  intranode-collective-comm.rst); small messages (< 1 MiB) use the Mesh algorithm, O(1)
  steps on Trn2, while Trn1/Inf2 (Transformers-NeuronX) run rings over the torus (4x4:
  2 x (3 + 3) steps) or the Inf2 ring (2 x 11). Across nodes a step costs the 15 us
  HBM-to-HBM RDMA latency (H1, collectives.rst), in 2 log2(n) recursive-halving steps.
- Bandwidth: all-reduce moves 2 (n-1)/n x S per member (ring or torus, emulation-model
  §1); all-gather and reduce-scatter half of that; all-to-all (n-1)/n x S.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from trnmon.hw.catalog import ChipKind, InstanceType, LinkTopology

# H3: per-hop latency of Ring/KangaRing inside a node, "about 1-2 us (HBM load dependent)";
# the midpoint.
HOP_LATENCY_S = 1.5e-6
# H1: minimal HBM-to-HBM packet between trn2.48xlarge servers (ib_write_lat on 10p10u).
EFA_LATENCY_S = 15e-6
# Mesh all-reduce on Trn2 = reduce-scatter + all-gather, one routed step each.
MESH_STEPS = 2
MESH_MAX_BYTES = 1 << 20  # intranode-collective-comm.rst: Mesh's sweet range is < 1 MB
# Fraction of a link's nominal bandwidth a large collective achieves. Placeholder: H8's
# 16-rank 512 MiB all-reduce reaches a bus bandwidth of 103.89 GB/s, but the instance and
# the ranks' chips are not stated, so the figure cannot pin this down.
LINK_EFFICIENCY = 0.7
# Trn2: the 256 GB/s inter-instance NeuronLink per chip (trainium2.rst, trn2-arch.rst).
TRN2_ULTRASERVER_BW_PER_CHIP = 256e9
TRN2_INTRA_BW_PER_CHIP = 1024e9  # of the 1.28 TB/s per chip, inside the instance


class Collective(Enum):
    ALL_REDUCE = 2.0  # bytes factor of 2 (n-1)/n
    ALL_GATHER = 1.0  # and reduce-scatter
    ALL_TO_ALL = 1.0


@dataclass(frozen=True, slots=True)
class Span:
    """Where one collective group's members sit."""

    chips_per_node: int  # chips of one instance in the group (>= 1)
    ring_nodes: int = 1  # instances joined by the UltraServer ring (1..4)
    efa_nodes: int = 1  # groups of those reached over EFA


@dataclass(frozen=True, slots=True)
class CollectiveCost:
    """Seconds for one collective and the bytes each member chip sends per fabric."""

    seconds: float
    intra_bytes: float  # per chip, over the instance's NeuronLink
    ring_bytes: float  # per chip, over the UltraServer ring
    efa_bytes: float  # per chip, over EFA


def intra_bandwidth(itype: InstanceType) -> float:
    """NeuronLink bandwidth per chip inside one instance (bytes/s)."""
    chip = itype.chip_spec
    if chip.kind == ChipKind.TRAINIUM2:
        return TRN2_INTRA_BW_PER_CHIP
    return chip.neuronlink_bandwidth


def efa_bandwidth_per_chip(itype: InstanceType) -> float:
    """EFA share of one chip (trn2: 16 x 200 Gbps, one per chip, H4)."""
    return itype.efa_bandwidth / itype.chips if itype.efa_bandwidth > 0 else 0.0


def intra_steps(itype: InstanceType, chips: int, nbytes: float) -> int:
    """Algorithm steps of an all-reduce over `chips` chips of one instance."""
    if chips <= 1:
        return 0
    if itype.chip_spec.kind == ChipKind.TRAINIUM2 and nbytes < MESH_MAX_BYTES:
        return MESH_STEPS
    if itype.link_topology == LinkTopology.RING:
        return 2 * (chips - 1)
    # 4x4 torus: rings along each dimension in turn (emulation-model §1, torus all-reduce).
    side = math.isqrt(itype.chips)
    if chips <= side:
        return 2 * (chips - 1)
    return 2 * ((side - 1) + (math.ceil(chips / side) - 1))


def collective(kind: Collective, nbytes: float, itype: InstanceType, span: Span,
               *, efficiency: float = LINK_EFFICIENCY) -> CollectiveCost:
    """Time and per-chip bytes of one collective of `nbytes` per member over `span`."""
    factor = kind.value
    c, u, n = span.chips_per_node, span.ring_nodes, span.efa_nodes
    steps = intra_steps(itype, c, nbytes)
    if kind != Collective.ALL_REDUCE:
        steps = max(1, steps // 2) if c > 1 else 0
    seconds = steps * HOP_LATENCY_S
    intra = factor * (c - 1) / c * nbytes if c > 1 else 0.0
    seconds += intra / (intra_bandwidth(itype) * efficiency) if intra else 0.0
    # Across instances each chip carries its 1/c share of the node's data.
    share = nbytes / c if kind != Collective.ALL_TO_ALL else nbytes
    ring = factor * (u - 1) / u * share if u > 1 else 0.0
    if ring:
        seconds += 2 * (u - 1) * HOP_LATENCY_S + ring / (TRN2_ULTRASERVER_BW_PER_CHIP
                                                         * efficiency)
    efa = factor * (n - 1) / n * share if n > 1 else 0.0
    if efa:
        bw = efa_bandwidth_per_chip(itype) * efficiency
        seconds += 2 * math.ceil(math.log2(n)) * EFA_LATENCY_S + (efa / bw if bw else math.inf)
    return CollectiveCost(seconds, intra, ring, efa)


def p2p(nbytes: float, itype: InstanceType, *, same_node: bool, ring: bool,
        efficiency: float = LINK_EFFICIENCY) -> CollectiveCost:
    """One point-to-point send of `nbytes` from one chip (pipeline stage boundary)."""
    if same_node:
        return CollectiveCost(HOP_LATENCY_S + nbytes / (intra_bandwidth(itype) * efficiency),
                              nbytes, 0.0, 0.0)
    if ring:
        return CollectiveCost(HOP_LATENCY_S + nbytes / (TRN2_ULTRASERVER_BW_PER_CHIP
                                                        * efficiency), 0.0, nbytes, 0.0)
    bw = efa_bandwidth_per_chip(itype) * efficiency
    return CollectiveCost(EFA_LATENCY_S + (nbytes / bw if bw else math.inf), 0.0, 0.0, nbytes)
