"""Gang scheduling on whole nodes and UltraServers, completion, and restart on failure.

Everything here runs on events (an arrival, a completion, a failure), never per device per
tick: the only per-tick work is a few array lookups to find what finished or failed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from trnmon.config.model import FleetConfig
from trnmon.hw.catalog import INSTANCE_TYPES, ULTRASERVER_NODES
from trnmon.sim.arrivals import (
    demand,
    fixed_rates,
    pool_mean_node_seconds,
    target_rates,
    update_average,
)
from trnmon.sim.backfill import EasyBackfill
from trnmon.sim.campaigns import campaign_spec, cell_campaigns
from trnmon.sim.cells import Cell
from trnmon.sim.goodput import Goodput, add_wait, fleet_totals
from trnmon.sim.jobmix import FAMILIES, Pool, random_spec
from trnmon.sim.jobs import JobRecord, JobTable
from trnmon.sim.pending import Pending, QueueFullError
from trnmon.sim.rules import JobState
from trnmon.sim.simstate import WAIT_BUCKETS_S, SchedulerState
from trnmon.sim.taxonomy import CAUSE_NAMES
from trnmon.sim.workloads import MIB, JobSpec, serving_model, training_cost
from trnmon.topology import Topology

_FAMILY_OF_TYPE = {"trn2.48xlarge": "trn2", "trn2u.48xlarge": "trn2",
                   "trn1.32xlarge": "trn1", "inf2.48xlarge": "inf2"}


class Scheduler(EasyBackfill):
    """One priority queue per scheduling cell (`trnmon/sim/cells.py`); a job is placed on
    the nodes of one cell, in that cell's job-table slots (slots [node_lo, node_hi): a job
    takes at least one node, so a cell never runs out of slots).

    Placement is priority order with EASY backfilling per instance family
    (`trnmon/sim/backfill.py`, a mixin of this class): no job waits behind one that cannot
    start, and a large gang is not starved by small ones. Campaigns hold cells of their
    own (`trnmon/sim/campaigns.py`).
    Admission control: an arrival that finds its cell's queue at `workload.max_queue` is
    rejected and counted, never raised.
    """

    def __init__(self, topo: Topology, config: FleetConfig, jobs: JobTable,
                 chip_job: npt.NDArray[np.int32], cells: list[Cell]) -> None:
        self.topo = topo
        self.config = config
        self.jobs = jobs
        self.chip_job = chip_job
        self.cells = cells
        # Everything the scheduler mutates lives in its part of the SimState.
        self.sched_state = SchedulerState(
            node_job=np.full(topo.n_nodes, -1, dtype=np.int32),
            node_usable=np.ones(topo.n_nodes, dtype=np.bool_),
            queues=[deque() for _ in cells], next_job_ids=[c.first_id for c in cells],
            goodput=fleet_totals(len(cells)), alloc_avg=np.zeros((len(cells), len(FAMILIES))),
            wait_hist=np.zeros((len(cells), len(WAIT_BUCKETS_S) + 1)),
            lost=np.zeros((len(cells), len(FAMILIES), len(CAUSE_NAMES))))
        # Cells held by a pretraining campaign: no arrivals, no other jobs (campaigns.py).
        self.campaigns = cell_campaigns(config, cells, topo.n_fleet_racks)
        self._shared_cells = [i for i in range(len(cells)) if i not in self.campaigns]
        self.node_cell = np.repeat(np.arange(len(cells), dtype=np.int32),
                                   [c.n_nodes for c in cells])
        fam = np.array([_FAMILY_OF_TYPE[t.name] for t in INSTANCE_TYPES])
        self.node_family = fam[topo.node_type]
        codes = np.array([FAMILIES.index(_FAMILY_OF_TYPE[t.name]) for t in INSTANCE_TYPES],
                         dtype=np.int8)
        self.node_fam = codes[topo.node_type]
        self.standalone = topo.node_ultraserver < 0
        # Each cell's UltraServers as rows of their nodes (cell-local), for gang picks.
        self._us_nodes = [
            (topo.ultraserver_node_start[c.us_lo:c.us_hi] - c.node_lo)[:, None]
            + np.arange(ULTRASERVER_NODES) for c in cells]
        # Instance families present per cell: static, and scanning 31k nodes per arrival
        # is what made building a 500k-chip fleet slow.
        self.cell_families = [frozenset(self.node_family[c.node_lo:c.node_hi].tolist())
                              for c in cells]
        self.pools = [[Pool(f, int((self.node_fam[c.node_lo:c.node_hi] == i).sum()),
                            (c.us_hi - c.us_lo) if f == "trn2" else 0)
                       for i, f in enumerate(FAMILIES)] for c in cells]
        # Each family's mean job node-seconds, estimated now rather than in the first tick
        # (a daemon's first tick must not take a second).
        for pools in self.pools:
            for pool in pools:
                if pool.nodes and config.workload.arrivals_per_hour is None:
                    pool_mean_node_seconds(config.workload, pool)
        self.events: list[tuple[str, int, str]] = []  # (kind, job_id, text) since last drain
        self.placed_slots: list[int] = []  # slots placed since the engine last looked
        self.now = 0.0  # simulated time of the current tick (the engine sets it)
        # Derived each placement pass (not state): the nodes reserved for each family's
        # blocked head job, and queue waits of recent placements for consumers to drain.
        self.reserved = np.zeros(topo.n_nodes, dtype=np.bool_)
        self.wait_log: list[float] = []
        # What placement and the arrival controller read (queues, free and healthy nodes)
        # changes only at the events that call `touch`. A cell whose last placement pass
        # changed nothing needs no pass until one does: a job that did not fit cannot fit
        # later without an event (free nodes only shrink, and a backfill candidate's end
        # only moves later relative to the head's shadow time). `version` counts every
        # touch, so per-family counts can be cached between events.
        self.dirty = np.ones(len(cells), dtype=np.bool_)
        self.version = 0
        # Arrival inputs per (cell, family), refreshed for a cell after its events.
        self.cell_version = np.zeros(len(cells), dtype=np.int64)
        self._demand_seen = np.full(len(cells), -1, dtype=np.int64)
        self._ff = np.zeros((len(cells), len(FAMILIES)))
        self._gap = np.zeros((len(cells), len(FAMILIES)))
        self._share = np.zeros((len(cells), len(FAMILIES)))
        self._counts: list[tuple[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                            npt.NDArray[np.int64]]] | None] = [None] * len(cells)

    # --- the mutable part, by the names the scheduler has always used ---------------------
    @property
    def node_job(self) -> npt.NDArray[np.int32]:
        return self.sched_state.node_job

    @property
    def node_usable(self) -> npt.NDArray[np.bool_]:
        return self.sched_state.node_usable

    @property
    def queues(self) -> list[deque[Pending]]:
        return self.sched_state.queues

    @queues.setter
    def queues(self, value: list[deque[Pending]]) -> None:
        self.sched_state.queues = value
        self.touch_all()

    def touch(self, cell: int) -> None:
        """Something placement reads changed in `cell` (a queue, a free or healthy node)."""
        self.dirty[cell] = True
        self.cell_version[cell] += 1
        self.version += 1

    def touch_all(self) -> None:
        self.dirty[:] = True
        self.cell_version += 1
        self.version += 1

    def touch_node(self, node: int) -> None:
        self.touch(int(self.node_cell[node]))

    @property
    def next_job_ids(self) -> list[int]:
        return self.sched_state.next_job_ids

    @next_job_ids.setter
    def next_job_ids(self, value: list[int]) -> None:
        self.sched_state.next_job_ids = value

    @property
    def completed(self) -> int:
        return self.sched_state.completed

    @completed.setter
    def completed(self, value: int) -> None:
        self.sched_state.completed = value

    @property
    def failed(self) -> int:
        return self.sched_state.failed

    @failed.setter
    def failed(self, value: int) -> None:
        self.sched_state.failed = value

    @property
    def queue(self) -> Sequence[Pending]:
        """Every queued job, cell by cell (with one cell: the queue itself)."""
        if len(self.queues) == 1:
            return self.queues[0]
        return [p for q in self.queues for p in q]

    @property
    def next_job_id(self) -> int:
        """The next job id of the first cell (of the fleet, with one cell)."""
        return self.next_job_ids[0]

    def cell_capacity(self, spec: JobSpec, cell: int) -> int:
        """Nodes of cell `cell` that could ever take the job (busy or not)."""
        c = self.cells[cell]
        if spec.ultraserver:
            return (c.us_hi - c.us_lo) * ULTRASERVER_NODES
        return int((self.node_family[c.node_lo:c.node_hi] == spec.instance_family).sum())

    def max_capacity(self, spec: JobSpec) -> int:
        return max(self.cell_capacity(spec, i) for i in range(len(self.cells)))

    def pick_cell(self, spec: JobSpec) -> int:
        """Where a submitted job queues: of the cells that can hold it, the one with the
        most free matching nodes now (the first on a tie); the first cell if none can."""
        if len(self.cells) == 1:
            return 0
        best, best_free = 0, -1
        free = self.node_usable & (self.node_job < 0)
        shared = bool(self._shared_cells)  # campaigns' cells take nothing else
        for i, c in enumerate(self.cells):
            if (shared and i in self.campaigns) or self.cell_capacity(spec, i) < spec.nodes:
                continue
            sl = slice(c.node_lo, c.node_hi)
            match = (self.topo.node_ultraserver[sl] >= 0) if spec.ultraserver else (
                self.node_family[sl] == spec.instance_family)
            n_free = int((free[sl] & match).sum())
            if n_free > best_free:
                best, best_free = i, n_free
        return best

    # --- submission and arrivals --------------------------------------------------------
    def submit(self, spec: JobSpec, now: float, cell: int | None = None) -> int:
        """Queue a job (the control API's path); `QueueFullError` when its cell's queue is."""
        cell = self.pick_cell(spec) if cell is None else cell
        if len(self.queues[cell]) >= self.config.workload.max_queue:
            raise QueueFullError("job queue is full")
        job_id = self.next_job_ids[cell]
        self.next_job_ids[cell] += 1
        self.queues[cell].append(Pending(spec, now, job_id))
        self.touch(cell)
        return job_id

    def admit(self, spec: JobSpec, now: float, cell: int) -> int | None:
        """An arrival: queued, or rejected and counted when the cell's queue is full."""
        if len(self.queues[cell]) >= self.config.workload.max_queue:
            self.sched_state.rejected += 1
            return None
        return self.submit(spec, now, cell)

    def pool_counts(self, cell: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                              npt.NDArray[np.int64]]:
        """Per family (FAMILIES order) in the cell: healthy nodes, healthy nodes with a
        job, and the nodes its queued jobs ask for (but a blocked head's). Cached between
        events (`touch`): the callers must not modify the arrays."""
        cached = self._counts[cell]
        if cached is not None and cached[0] == self.cell_version[cell]:
            return cached[1]
        c = self.cells[cell]
        sl = slice(c.node_lo, c.node_hi)
        fam, usable = self.node_fam[sl], self.node_usable[sl]
        n = len(FAMILIES)
        healthy = np.bincount(fam[usable], minlength=n)
        allocated = np.bincount(fam[usable & (self.node_job[sl] >= 0)], minlength=n)
        queued = np.zeros(n, dtype=np.int64)
        # A blocked head (the first job of a family in queue order, larger than the free
        # nodes) is left out: its nodes are the running jobs it waits for, and counting
        # them again would starve the backfill that keeps the family busy meanwhile.
        first: dict[int, tuple[int, float, int, int]] = {}
        for p in self.queues[cell]:
            f = FAMILIES.index(p.spec.instance_family)
            queued[f] += p.spec.nodes
            key = (p.priority, p.queued_since, p.job_id, p.spec.nodes)
            if f not in first or key < first[f]:
                first[f] = key
        for f, key in first.items():
            if key[3] > healthy[f] - allocated[f]:
                queued[f] -= key[3]
        self._counts[cell] = (int(self.cell_version[cell]), (healthy, allocated, queued))
        return healthy, allocated, queued

    def arrive(self, now: float, dt: float) -> None:
        """This tick's arrivals in every cell: target allocation per family (or the fixed
        rate), each admitted or rejected. Rates for all cells at once (a cell's rates read
        only its own counts, so one cell's arrivals do not change another's)."""
        wl = self.config.workload
        st = self.sched_state
        n_cells = len(self.cells)
        if wl.arrivals_per_hour is None:
            for cell in self._shared_cells:  # campaigns' cells get no arrivals
                if self._demand_seen[cell] != self.cell_version[cell]:
                    self._demand_seen[cell] = self.cell_version[cell]
                    d = demand(wl, self.pools[cell], *self.pool_counts(cell))
                    self._ff[cell], self._gap[cell], self._share[cell] = (d.feed_forward,
                                                                          d.gap, d.share)
            rates = target_rates(wl, self._ff, self._gap, st.alloc_avg)
        else:
            rates = np.array([fixed_rates(wl, self.pools[i], self.cells[i].n_chips)
                              for i in range(n_cells)])
            for cell in range(n_cells):
                self._share[cell] = demand(wl, self.pools[cell],
                                           *self.pool_counts(cell)).share
        if self.campaigns:
            rates[list(self.campaigns)] = 0.0
        update_average(st.alloc_avg, self._share, dt)
        # Counts then positions: one Poisson total per cell (a scalar draw from the cell's
        # generator) split by family.
        for cell, rate in enumerate(rates.sum(axis=1).tolist()):
            if rate <= 0:
                continue
            c = self.cells[cell]
            k = int(c.rng.poisson(rate * dt))
            if not k:
                continue
            pools = self.pools[cell]
            counts = c.rng.multinomial(k, rates[cell] / rate).tolist()
            for pool, n in zip(pools, counts, strict=True):
                for _ in range(int(n)):
                    self.admit(random_spec(wl, c.rng, pool), now, cell)

    def random_spec(self, rng: np.random.Generator, trainium_only: bool = False,
                    cell: int = 0) -> JobSpec:
        """A job from the configured mix for a family of the cell, picked by node count
        (Trainium families only with `trainium_only`)."""
        pools = [p for p in self.pools[cell] if p.nodes and not (
            trainium_only and p.family == "inf2")]
        w = np.array([p.nodes for p in pools], dtype=np.float64)
        pool = pools[int(rng.choice(len(pools), p=w / w.sum()))]
        return random_spec(self.config.workload, rng, pool)

    def cancel(self, job_id: int) -> bool:
        self.touch_all()
        for q in self.queues:
            for p in list(q):
                if p.job_id == job_id:
                    q.remove(p)
                    return True
        for slot, rec in list(self.jobs.records.items()):
            if rec.job_id == job_id:
                self._free(slot)
                self.events.append(("cancelled", job_id, "cancelled"))
                return True
        return False

    # --- placement ---------------------------------------------------------------------
    def try_place(self, p: Pending, now: float, cell: int = 0,
                  nodes: npt.NDArray[np.intp] | None = None) -> int | None:
        """Place a pending job on `nodes` (or on free nodes of its cell); its slot, or None
        if it does not fit yet."""
        if nodes is None:
            nodes = self._candidate_nodes(p.spec, cell)
        if nodes is None:
            return None
        c = self.cells[cell]
        slot = self.jobs.free_slot(c.node_lo, c.node_hi)
        self.touch(cell)
        topo = self.topo
        itype = topo.instance_type(int(nodes[0]))
        chip = itype.chip_spec
        chips = int(sum(topo.chip_count_per_node[nodes]))
        us = topo.node_ultraserver[nodes]
        ring = bool(len(nodes) > 1 and (us >= 0).all() and len(set(us.tolist())) == 1)
        wait = max(0.0, now - p.queued_since)
        goodput = p.goodput.plus(Goodput(requeue=wait) if p.restarts else Goodput(queue=wait))
        rec = JobRecord(job_id=p.job_id, spec=p.spec, nodes=[int(n) for n in nodes],
                        submitted_at=p.submitted_at, started_at=now, restarts=p.restarts,
                        ultraserver_ring=ring, chips=chips, goodput=goodput,
                        restart_cause=p.cause)
        if p.spec.job_kind.training:
            cost = training_cost(p.spec, chip, chips, ultraserver_ring=ring,
                                 efa_per_node=itype.efa_bandwidth)
            self.jobs.start_training(slot, rec, cost, self.config.workload.checkpoint_interval_s)
            self.jobs.steps[slot] = self.jobs.checkpoint_step[slot] = p.resume_step
        else:
            sm = serving_model(p.spec, chip, chips)
            self.jobs.start_serving(slot, rec, sm, (sm.weight_bytes, 160.0 * MIB,
                                                    min(2.0 * 2**30, chip.hbm_bytes * 0.02),
                                                    320.0 * MIB))
        self.jobs.elapsed[slot] = p.elapsed
        self.jobs.peak_flops[slot] = chip.bf16_tflops * 1e12
        self.node_job[nodes] = slot
        for n in nodes:
            self.chip_job[topo.node_chip_start[n]: topo.node_chip_start[n + 1]] = slot
        self.placed_slots.append(slot)
        st = self.sched_state
        st.placements += 1
        st.wait_sum += wait
        st.wait_hist[cell, int(np.searchsorted(WAIT_BUCKETS_S, wait))] += 1
        add_wait(st.goodput[cell], p.spec.job_kind, chips, wait, requeued=p.restarts > 0)
        self.wait_log.append(wait)
        verb = "restarted" if p.restarts else "started"
        self.events.append((verb, p.job_id, f"{p.spec.kind} {p.spec.model} on {len(nodes)} "
                                            f"node(s)"))
        return slot

    # --- completion and failure --------------------------------------------------------
    def _free(self, slot: int) -> JobRecord:
        rec = self.jobs.release(slot)
        self.node_job[rec.nodes] = -1
        self.touch_node(rec.nodes[0])
        for n in rec.nodes:
            self.chip_job[self.topo.node_chip_start[n]: self.topo.node_chip_start[n + 1]] = (
                self.jobs.idle_slot)
        return rec

    def complete_finished(self) -> None:
        for slot in self.jobs.finished_slots():
            rec = self._free(int(slot))
            self.completed += 1
            self.events.append(("completed", rec.job_id, f"{rec.spec.kind} {rec.spec.model}"))

    def fail_job(self, slot: int, reason: str, cause: str = "other") -> None:
        """The job crashes (an interruption, counted by `cause`: the fault kind behind it);
        the work since its last checkpoint is lost, and it requeues at restart priority
        to resume from that checkpoint."""
        jobs = self.jobs
        st = self.sched_state
        jobs.lose_since_checkpoint(slot, st.goodput[int(self.node_cell[slot])],
                                   st.lost[int(self.node_cell[slot])], cause)
        goodput = jobs.job_goodput(slot)
        resume = float(jobs.checkpoint_step[slot])
        elapsed = float(jobs.elapsed[slot])
        rec = self._free(slot)
        self.failed += 1
        st.interruptions[cause] = st.interruptions.get(cause, 0) + 1
        cell = int(self.node_cell[rec.nodes[0]])
        self.queues[cell].appendleft(Pending(rec.spec, rec.submitted_at, rec.job_id,
                                             restarts=rec.restarts + 1, resume_step=resume,
                                             elapsed=elapsed, enqueued_at=self.now,
                                             goodput=goodput, cause=cause))
        self.events.append(("failed", rec.job_id, reason))

    def stall_jobs_of_chips(self, chips: npt.NDArray[np.intp]) -> None:
        slots = np.unique(self.chip_job[chips])
        slots = slots[slots != self.jobs.idle_slot]
        job_state = self.jobs.state
        running = slots[job_state[slots] != JobState.STALLED]
        job_state[running] = JobState.STALLED
        self.jobs.timer[running] = 0.0

    def jobs_on_chips(self, chips: npt.NDArray[np.intp]) -> list[int]:
        slots = np.unique(self.chip_job[chips])
        return [int(s) for s in slots if s != self.jobs.idle_slot]

    def initial_fill(self, cell: int, now: float) -> None:
        """Occupy `initial_fill` of each family of the cell with jobs already part-way
        through (their queue time and earlier runs are not counted)."""
        rng = self.cells[cell].rng
        wl = self.config.workload
        campaign = self.campaigns.get(cell)
        if campaign is not None:  # the run is under way, the rest of the cell its spares
            run = Pending(campaign_spec(campaign), now, self.next_job_ids[cell])
            # At start every node is healthy and `cell_campaigns` checked the gang fits.
            started = self._start(run, cell, now, rng, elapsed=0.0)
            assert started, "a campaign's gang did not fit its empty cell"
        for pool in () if campaign is not None else self.pools[cell]:
            target = wl.initial_fill * pool.nodes
            used = 0
            misses = 0  # consecutive: a job that does not fit is followed by smaller ones
            while pool.nodes and used < target and misses < 64:
                spec = random_spec(wl, rng, pool)
                if not self._start(Pending(spec, now, self.next_job_ids[cell]), cell, now,
                                   rng):
                    misses += 1
                    continue
                misses = 0
                used += spec.nodes
        self.events.clear()
        self.wait_log.clear()
        st = self.sched_state
        st.placements, st.wait_sum = 0, 0.0
        st.wait_hist[:] = 0.0
        # The arrival controller's allocated-share average starts from the share the fill
        # left, not from zero: a cold average reads as a fleet far below target for hours
        # (ARRIVAL_EWMA_S) and boosts arrivals to the cap, flooding the queue at start.
        healthy, allocated, _ = self.pool_counts(cell)
        np.divide(allocated, healthy, out=st.alloc_avg[cell], where=healthy > 0)

    def _start(self, p: Pending, cell: int, now: float, rng: np.random.Generator,
               elapsed: float | None = None) -> bool:
        """Place `p` as already running (a random part of it done unless `elapsed` is
        given, a random time since its last checkpoint); False if it does not fit."""
        slot = self.try_place(p, now, cell)
        if slot is None:
            return False
        self.next_job_ids[cell] += 1
        jobs = self.jobs
        jobs.state[slot] = JobState.RUNNING
        jobs.timer[slot] = 0.0
        jobs.elapsed[slot] = (float(rng.uniform(0, 0.8)) * p.spec.duration_s if elapsed is None
                              else elapsed)
        jobs.since_checkpoint[slot] = float(rng.uniform(0, 1)) * (
            self.config.workload.checkpoint_interval_s)
        return True
