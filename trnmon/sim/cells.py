"""Scheduling cells and shards: the units a fleet is split into so slices run alone.

A cell is a contiguous run of `cell_racks` whole racks in topology order (an UltraServer is
one rack, so it never straddles cells). Everything random or coupled in the engine is per
cell: its own random generator (`default_rng([seed, cell])`), arrivals, queue and job
placement (a job's nodes come from one cell), initial fill, random faults, the per-chip
weights drawn at start, step-time jitter, and job and fault ids (`cell * ID_STRIDE + n`).
What is left is per chip or per job slot, so a cell steps identically whether it runs
inside the whole fleet or in a shard of it.

A one-cell fleet (the default, `cell_racks = None`) uses `default_rng(seed)` in exactly the
order the engine always has, so its trajectory and ids are unchanged.

A shard `I/N` (I from 1) is the I-th of N contiguous, near-equal runs of cells: cells
``[(I-1)·C // N, I·C // N)`` of the fleet's C cells.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from trnmon.config.model import FleetConfig
from trnmon.errors import TrnmonError
from trnmon.topology import Topology, build_topology
from trnmon.topology.fleet import subset

ID_STRIDE = 1_000_000  # job and fault ids of cell c are c * ID_STRIDE + 1, + 2, ...


@dataclass(eq=False)
class Cell:
    """A scheduling cell: a run of whole racks with its own random generator; owns its
    local rack, node, chip and UltraServer ranges (see the module docstring)."""

    index: int  # global: the same in the whole fleet and in every shard
    rack_lo: int  # local (this topology's) ranges
    rack_hi: int
    node_lo: int
    node_hi: int
    chip_lo: int
    chip_hi: int
    us_lo: int
    us_hi: int
    rng: np.random.Generator

    @property
    def n_chips(self) -> int:
        return self.chip_hi - self.chip_lo

    @property
    def n_nodes(self) -> int:
        return self.node_hi - self.node_lo

    @property
    def first_id(self) -> int:
        return self.index * ID_STRIDE + 1


def fleet_cells(n_fleet_racks: int, cell_racks: int | None) -> int:
    """How many cells a fleet of `n_fleet_racks` racks has."""
    if cell_racks is None:
        return 1
    return -(-n_fleet_racks // cell_racks)


def make_cells(topo: Topology, config: FleetConfig) -> list[Cell]:
    """The cells of `topo` (a whole fleet or a shard), each with its generator."""
    total = fleet_cells(topo.n_fleet_racks, config.cell_racks)
    per = config.cell_racks or topo.n_fleet_racks
    first = topo.rack_offset // per
    last = (topo.rack_offset + topo.n_racks - 1) // per
    cells = []
    for index in range(first, last + 1):
        r0 = max(index * per - topo.rack_offset, 0)
        r1 = min((index + 1) * per - topo.rack_offset, topo.n_racks)
        n0, n1 = int(topo.rack_node_start[r0]), int(topo.rack_node_start[r1])
        us = topo.ultraserver_node_start
        rng = (np.random.default_rng(config.seed) if total == 1
               else np.random.default_rng([config.seed, index]))
        cells.append(Cell(index=index, rack_lo=r0, rack_hi=r1, node_lo=n0, node_hi=n1,
                          chip_lo=int(topo.node_chip_start[n0]),
                          chip_hi=int(topo.node_chip_start[n1]),
                          us_lo=int(np.searchsorted(us, n0)), us_hi=int(np.searchsorted(us, n1)),
                          rng=rng))
    return cells


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4); one clear error otherwise."""
    m = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
    if not m or not 1 <= int(m[1]) <= int(m[2]):
        raise TrnmonError(f"--shard: expected I/N with 1 <= I <= N (e.g. 2/4), got {text!r}")
    return int(m[1]), int(m[2])


def shard_racks(n_racks: int, cell_racks: int | None, index: int,
                count: int) -> tuple[int, int]:
    """Racks [lo, hi) of shard index/count (index from 1) of a fleet of n_racks."""
    cells = fleet_cells(n_racks, cell_racks)
    if count > cells:
        hint = ("set cell_racks to split the fleet into scheduling cells"
                if cell_racks is None else "use fewer shards or a smaller cell_racks")
        raise TrnmonError(f"--shard {index}/{count}: the fleet has {cells} scheduling "
                          f"cell(s) ({n_racks} racks, cell_racks={cell_racks}); {hint}")
    per = cell_racks or n_racks
    c0, c1 = (index - 1) * cells // count, index * cells // count
    return c0 * per, min(c1 * per, n_racks)


def shard_topology(config: FleetConfig, shard: tuple[int, int] | None,
                   topo: Topology | None = None) -> Topology:
    """The topology a daemon with `--shard I/N` emulates (the whole fleet for None)."""
    full = topo or build_topology(config)
    if shard is None:
        return full
    lo, hi = shard_racks(full.n_racks, config.cell_racks, *shard)
    return subset(full, lo, hi, shard=shard)
