"""The NeuronLink graph as per-chip port arrays.

A directed link is one (chip, port) pair: it carries bytes from `chip` to
`port_peer[chip, port]`; its id is ``chip * MAX_PORTS + port``. The reverse direction is
``(port_peer, port_peer_port)``. Port order follows `neuron-ls` CONNECTED DEVICES
(reference §2.2, §8): device 0 of a trn2 node connects to 12, 3, 4, 1 = up, left, down,
right in the 4x4 grid with wrap-around. Ports 4 and 5 are the UltraServer ring to the chip
at the same position in the previous and next node (the 4x4x4 torus, 6 neighbours).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt

from trnmon.hw.catalog import CHIPS, ULTRASERVER_NODES, ChipKind

MAX_PORTS = 6
PORT_NAMES = ("up", "left", "down", "right", "us_prev", "us_next")
GRID = 4  # the 4x4 torus side


class PortKind(IntEnum):
    """What a NeuronLink port connects."""

    NONE = 0
    INTRA_NODE = 1  # torus or ring inside one instance
    ULTRASERVER = 2  # ring across the 4 instances of an UltraServer


# Per-port share of a chip's NeuronLink bandwidth. Per-link figures are not published
# (emulation-model §1): Trn2's 1,024 GB/s intra-instance splits over 4 torus ports and
# 256 GB/s inter-instance over 2 ring ports (trainium2-and-neuron-tools §2.1).
TRN2_INTRA_PORT_BW = 1024e9 / 4
TRN2_ULTRASERVER_PORT_BW = 256e9 / 2

IntArray = npt.NDArray[np.int32]


def torus_neighbours(local: npt.NDArray[np.integer]) -> npt.NDArray[np.int32]:
    """(n, 4) local neighbour indices (up, left, down, right) in a 4x4 torus."""
    row, col = np.divmod(local.astype(np.int32), GRID)
    up = ((row - 1) % GRID) * GRID + col
    left = row * GRID + (col - 1) % GRID
    down = ((row + 1) % GRID) * GRID + col
    right = row * GRID + (col + 1) % GRID
    return np.stack([up, left, down, right], axis=1).astype(np.int32)


def wire_ports(
    chip_node: IntArray,
    chip_local: IntArray,
    chip_kind: npt.NDArray[np.int8],
    node_chip_start: npt.NDArray[np.int64],
    node_chip_count: IntArray,
    node_torus: npt.NDArray[np.bool_],
    node_ultraserver_slot: npt.NDArray[np.int8],
) -> tuple[IntArray, npt.NDArray[np.int8], npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Return (port_peer, port_peer_port, port_kind, port_bandwidth), each (chips, 6)."""
    n = chip_node.shape[0]
    peer = np.full((n, MAX_PORTS), -1, dtype=np.int32)
    peer_port = np.full((n, MAX_PORTS), -1, dtype=np.int8)
    kind = np.zeros((n, MAX_PORTS), dtype=np.int8)
    bw = np.zeros((n, MAX_PORTS), dtype=np.float32)
    base = node_chip_start[chip_node].astype(np.int64)

    per_port_bw = np.zeros(len(ChipKind), dtype=np.float32)
    per_port_bw[ChipKind.TRAINIUM2] = TRN2_INTRA_PORT_BW
    per_port_bw[ChipKind.TRAINIUM1] = CHIPS[ChipKind.TRAINIUM1].neuronlink_bandwidth / 4
    per_port_bw[ChipKind.INFERENTIA2] = CHIPS[ChipKind.INFERENTIA2].neuronlink_bandwidth / 2

    # 2D torus inside trn2/trn1 nodes.
    torus = node_torus[chip_node]
    idx = np.flatnonzero(torus)
    peer[idx, :4] = base[idx, None] + torus_neighbours(chip_local[idx])
    peer_port[idx, :4] = np.array([2, 3, 0, 1], dtype=np.int8)  # up<->down, left<->right
    kind[idx, :4] = PortKind.INTRA_NODE
    bw[idx, :4] = per_port_bw[chip_kind[idx]][:, None]

    # Ring inside ring nodes (inf2): port 0 = previous, port 1 = next.
    idx = np.flatnonzero(~torus)
    count = node_chip_count[chip_node[idx]]
    loc = chip_local[idx]
    peer[idx, 0] = base[idx] + (loc - 1) % count
    peer[idx, 1] = base[idx] + (loc + 1) % count
    peer_port[idx, 0], peer_port[idx, 1] = 1, 0
    kind[idx, :2] = PortKind.INTRA_NODE
    bw[idx, :2] = per_port_bw[chip_kind[idx]][:, None]

    # Ring across the nodes of an UltraServer: same local index, previous/next node.
    slot = node_ultraserver_slot[chip_node]
    idx = np.flatnonzero(slot >= 0)
    s = slot[idx].astype(np.int64)
    us_first_node = chip_node[idx] - s
    for port, step, back in ((4, -1, 5), (5, 1, 4)):
        peer_node = us_first_node + (s + step) % ULTRASERVER_NODES
        peer[idx, port] = node_chip_start[peer_node] + chip_local[idx]
        peer_port[idx, port] = back
        kind[idx, port] = PortKind.ULTRASERVER
        bw[idx, port] = TRN2_ULTRASERVER_PORT_BW
    return peer, peer_port, kind, bw
