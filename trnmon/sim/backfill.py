"""EASY backfilling: which queued jobs start, on which nodes, in a placement pass.

A mixin of `Scheduler` (trnmon/sim/scheduler.py), which owns the state these methods read
and the `try_place` that starts a job; kept apart so the placement policy reads as one
piece. Per instance family of every cell, queued jobs go in priority order: the first
job that does not fit gets a reservation (the nodes it will take at the earliest time
enough running jobs have ended, its shadow time); later jobs start if they fit now and
either end before the shadow time or leave the reserved nodes alone. So no job waits
behind one that cannot start, and a large gang is not starved by small ones.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt

from trnmon.hw.catalog import ULTRASERVER_NODES
from trnmon.sim.cells import Cell
from trnmon.sim.jobmix import FAMILIES
from trnmon.sim.jobs import JobTable
from trnmon.sim.pending import Pending
from trnmon.sim.rules import LOAD_S
from trnmon.sim.workloads import JobSpec


class EasyBackfill:
    """Node picking and the placement pass (see the module docstring)."""

    # What the scheduler provides (set in its __init__, or its state's properties).
    cells: list[Cell]
    jobs: JobTable
    dirty: npt.NDArray[np.bool_]
    reserved: npt.NDArray[np.bool_]
    standalone: npt.NDArray[np.bool_]
    node_fam: npt.NDArray[np.int8]
    _us_nodes: list[npt.NDArray[np.int64]]

    @property
    def node_job(self) -> npt.NDArray[np.int32]:
        raise NotImplementedError

    @property
    def node_usable(self) -> npt.NDArray[np.bool_]:
        raise NotImplementedError

    @property
    def queues(self) -> list[deque[Pending]]:
        raise NotImplementedError

    def try_place(self, p: Pending, now: float, cell: int = 0,
                  nodes: npt.NDArray[np.intp] | None = None) -> int | None:
        raise NotImplementedError

    def _pick(self, spec: JobSpec, mask: npt.NDArray[np.bool_],
              cell: int) -> npt.NDArray[np.intp] | None:
        """The nodes (global indices) the job would take among the cell's nodes where
        `mask` (local to the cell, family already applied) is true; None if too few.
        Gangs take whole UltraServers; other jobs take standalone nodes first, so whole
        UltraServers stay free for gangs."""
        c = self.cells[cell]
        if spec.ultraserver:
            us_nodes = self._us_nodes[cell]
            if us_nodes.size == 0 or spec.nodes % ULTRASERVER_NODES:
                return None
            whole = mask[us_nodes].all(axis=1)
            picks = np.flatnonzero(whole)[: spec.nodes // ULTRASERVER_NODES]
            if picks.size * ULTRASERVER_NODES < spec.nodes:
                return None
            return us_nodes[picks].ravel() + c.node_lo
        alone = self.standalone[c.node_lo:c.node_hi]
        first = np.flatnonzero(mask & alone)
        if first.size >= spec.nodes:
            return first[: spec.nodes] + c.node_lo
        rest = np.flatnonzero(mask & ~alone)
        if first.size + rest.size < spec.nodes:
            return None
        return np.concatenate([first, rest])[: spec.nodes] + c.node_lo

    def _family_mask(self, cell: int, family: int) -> npt.NDArray[np.bool_]:
        c = self.cells[cell]
        out: npt.NDArray[np.bool_] = self.node_fam[c.node_lo:c.node_hi] == family
        return out

    def _free_mask(self, cell: int) -> npt.NDArray[np.bool_]:
        c = self.cells[cell]
        sl = slice(c.node_lo, c.node_hi)
        out: npt.NDArray[np.bool_] = self.node_usable[sl] & (self.node_job[sl] < 0)
        return out

    def _candidate_nodes(self, spec: JobSpec, cell: int) -> npt.NDArray[np.intp] | None:
        fam = self._family_mask(cell, FAMILIES.index(spec.instance_family))
        return self._pick(spec, self._free_mask(cell) & fam, cell)

    def place_queued(self, now: float) -> None:
        """Priority order with EASY backfilling, per family of every cell (see the class
        docstring). Every queued job of a cell is considered in a tick after something the
        pass reads changed there (`touch`), while free nodes remain."""
        for cell, q in enumerate(self.queues):
            if not self.dirty[cell]:
                continue  # nothing it reads changed since a pass that placed nothing
            self.dirty[cell] = False  # placing sets it again: one more pass next tick
            c = self.cells[cell]
            self.reserved[c.node_lo:c.node_hi] = False
            if not q:
                continue
            free = self._free_mask(cell)
            if not free.any():
                continue
            order = sorted(q, key=lambda p: (p.priority, p.queued_since, p.job_id))
            placed: set[int] = set()
            for f in range(len(FAMILIES)):
                mine = [p for p in order if FAMILIES.index(p.spec.instance_family) == f]
                if mine:
                    placed |= self._place_family(cell, f, mine, free, now)
            if placed:
                self.queues[cell] = deque(p for p in q if p.job_id not in placed)

    def _place_family(self, cell: int, family: int, order: list[Pending],
                      free: npt.NDArray[np.bool_], now: float) -> set[int]:
        """EASY backfilling over one family's queued jobs; `free` is updated in place."""
        fam = self._family_mask(cell, family)
        avail = free & fam
        n_free = int(avail.sum())
        placed: set[int] = set()
        head_blocked = False
        shadow = math.inf
        reserved = np.zeros_like(avail)
        # Masks only shrink during a pass, so a shape (gang or not, nodes) that did not fit
        # a mask fits no later one, nor does anything larger: skip those picks.
        too_big: dict[tuple[bool, bool], int] = {}

        def pick(spec: JobSpec, mask: npt.NDArray[np.bool_],
                 unreserved: bool) -> npt.NDArray[np.intp] | None:
            key = (spec.ultraserver, unreserved)
            if spec.nodes >= too_big.get(key, 1 << 30):
                return None
            nodes = self._pick(spec, mask, cell)
            if nodes is None:
                too_big[key] = spec.nodes
            return nodes

        for p in order:
            if n_free == 0:
                break
            if p.spec.nodes > n_free and head_blocked:
                continue
            if not head_blocked:
                nodes = pick(p.spec, avail, False)
                if nodes is None:
                    head_blocked = True
                    shadow, reserved = self._reservation(p.spec, cell, avail, fam, now)
                    continue
            else:
                ends = now + max(0.0, p.spec.duration_s - p.elapsed) + LOAD_S
                nodes = pick(p.spec, avail & ~reserved, True)
                if nodes is None and ends <= shadow:
                    nodes = pick(p.spec, avail, False)
                if nodes is None:
                    continue
            self.try_place(p, now, cell, nodes)
            local = nodes - self.cells[cell].node_lo
            avail[local] = False
            free[local] = False
            n_free -= len(local)
            placed.add(p.job_id)
        c = self.cells[cell]
        self.reserved[c.node_lo:c.node_hi] |= reserved & avail
        return placed

    def _reservation(self, spec: JobSpec, cell: int, avail: npt.NDArray[np.bool_],
                     fam: npt.NDArray[np.bool_],
                     now: float) -> tuple[float, npt.NDArray[np.bool_]]:
        """The head job's shadow time and reserved nodes (local mask): the earliest time
        enough running jobs of the family end for it to fit, and the nodes it takes then.
        (inf, nothing) if it cannot fit even when everything running has ended."""
        c = self.cells[cell]
        sl = slice(c.node_lo, c.node_hi)
        slots = self.node_job[sl]
        busy = fam & self.node_usable[sl] & (slots >= 0)
        jobs = self.jobs
        left = np.where(busy, np.maximum(jobs.duration[slots] - jobs.elapsed[slots], 0.0),
                        math.inf)
        ends = np.unique(left[busy])
        lo, hi = 0, ends.size  # binary search: fitting is monotone in time
        while lo < hi:
            mid = (lo + hi) // 2
            if self._pick(spec, avail | (busy & (left <= ends[mid])), cell) is None:
                lo = mid + 1
            else:
                hi = mid
        if lo == ends.size:
            return math.inf, np.zeros_like(avail)
        nodes = self._pick(spec, avail | (busy & (left <= ends[lo])), cell)
        reserved = np.zeros_like(avail)
        assert nodes is not None
        reserved[nodes - c.node_lo] = True
        return now + float(ends[lo]), reserved
