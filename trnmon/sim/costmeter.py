"""The cost meter: what the emulated fleet's jobs and capacity cost, tick by tick.

It reads the simulation state after each tick (`SimState`: the nodes' job slots and
usability, the job table's states, busy shares and token counters) and prices it with the
fleet's resolved rates (trnmon/sim/cost.py):

- every node-second goes to exactly one capacity state of its family
  (`CapacityState`): unhealthy if the node is not usable (down, or a failed chip drains
  it), unallocated if it holds no job, checkpoint/restart while its job loads, checkpoints
  or hangs, else productive: all of it for a training job that progresses, the busy share
  for a serving job (the rest is allocated but idle);
- a job costs its nodes' rates for as long as it holds them, across restarts (a job keeps
  its id when it is requeued); tokens are counted as processed, and for training also as
  kept (steps since the last checkpoint are rolled back by a restart), so tokens per
  dollar and goodput-adjusted tokens per dollar follow.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trnmon.config.model import PricingConfig
from trnmon.hw.catalog import INSTANCE_TYPES
from trnmon.sim.cost import (
    CAPACITY_STATES,
    FAMILIES,
    SECONDS_PER_HOUR,
    CapacityLedger,
    CapacityState,
    family_of,
    node_rates,
    tokens_per_dollar,
)
from trnmon.sim.costkernel import MeterKernel, meter_kernel
from trnmon.sim.jobmix import FAMILIES as JOBMIX_FAMILIES
from trnmon.sim.rules import JobKind, JobState
from trnmon.sim.simstate import SimState
from trnmon.sim.taxonomy import CAUSE_NAMES
from trnmon.topology import Topology

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]
FINISHED_KEPT = 1024
FUSE_AFTER_TICKS = 2000  # numpy ticks before the meter loads its compiled tick
# Lookup tables by job state and job kind code (cheaper than np.isin on every tick): the
# capacity state of a held node whose job is in that state, and whether a kind trains.
_WAITING = (int(JobState.LOADING), int(JobState.CHECKPOINTING), int(JobState.STALLED))
_STATE_OF_JOB = np.array([int(CapacityState.CHECKPOINT_RESTART) if s in _WAITING
                          else int(CapacityState.PRODUCTIVE) for s in range(256)],
                         dtype=np.int8)
_TRAINING = (int(JobKind.PRETRAIN), int(JobKind.FINETUNE))
_TRAINING_KIND = np.array([k in _TRAINING for k in range(256)], dtype=np.bool_)
assert FAMILIES == JOBMIX_FAMILIES  # SchedulerState.lost is by the scheduler's families


@dataclass(slots=True)
class JobCost:
    """One job's spending so far (all its placements) and the tokens it bought."""

    job_id: int
    dollars: float = 0.0
    tokens: float = 0.0  # processed, including steps a restart rolled back
    kept_tokens: float = 0.0  # training: steps reached x tokens per step; serving: tokens
    per_hour: float = 0.0  # burn rate of its current placement (0 while queued)

    @property
    def tokens_per_dollar(self) -> float:
        return tokens_per_dollar(self.tokens, self.dollars)

    @property
    def goodput_tokens_per_dollar(self) -> float:
        return tokens_per_dollar(self.kept_tokens, self.dollars)


class CostMeter:
    """Accrues job and capacity cost from a `SimState`; call `step` after every tick.

    Per-job amounts live in per-slot arrays while a job holds a slot (vectorized, so a
    tick costs a few array operations however many jobs run) and move to `carried` when
    the job leaves it: to be added to its next placement after a restart, or kept among
    the latest `FINISHED_KEPT` finished jobs.

    Speed (a soak tick is a few hundred microseconds): what follows from the allocation
    alone (which slot each node serves, each slot's hourly price and family, which slots
    changed owner) is recomputed only when the job table's `version` moves (a slot taken
    or freed); a tick then costs one pass over the nodes with preallocated buffers, in
    exactly the arithmetic of `CapacityLedger.accrue` on `classify` (tested bit for bit).
    """

    def __init__(self, topo: Topology, pricing: PricingConfig, capacity: int) -> None:
        self.currency = pricing.currency
        fam_of_type = np.array([FAMILIES.index(family_of(t.name)) for t in INSTANCE_TYPES],
                               dtype=np.int64)
        self.node_family = fam_of_type[topo.node_type]
        self._node_chips = topo.chip_count_per_node.astype(np.float64)
        self.ledger = CapacityLedger(FAMILIES)
        n = capacity + 1  # the job table's slots, the idle slot included
        self.owner = np.full(n, -1, dtype=np.int64)  # job id holding each slot
        self.slot_dollars = np.zeros(n)
        self.slot_tokens = np.zeros(n)  # processed since the job was placed in the slot
        self.slot_per_hour: F64 = np.zeros(n)
        self._seen = np.zeros(n)  # the slot's tokens_total at the last step
        self.family_tokens = np.zeros(len(FAMILIES))  # tokens processed, by family
        # Lost work by (family, taxonomy cause), priced (`SchedulerState.lost` has the
        # chip-seconds); `_lost_seen` is the chip-seconds already priced.
        self.lost_dollars = np.zeros((len(FAMILIES), len(CAUSE_NAMES)))
        self._lost_seen = np.zeros((len(FAMILIES), len(CAUSE_NAMES)))
        self.carried: dict[int, JobCost] = {}  # jobs between placements (restarting)
        self.finished: OrderedDict[int, JobCost] = OrderedDict()  # the latest finished
        # Derived from the allocation, refreshed when the job table's version moves.
        nodes = topo.n_nodes
        self._version = -1
        self._node_slot = np.zeros(nodes, dtype=np.int64)
        self._unheld = np.zeros(nodes, dtype=np.bool_)
        self._live = np.zeros(n)  # 1.0 for slots with an owner, else 0.0
        # When the owner's current run started: a job that crashes and is placed again in
        # the same slot within one tick keeps its id but restarts its token counter, so it
        # is a new run. Not checkpointed: NaN (after a restore) adopts the run as it is.
        self._owner_start = np.full(n, np.nan)
        self._slot_family = np.zeros(n, dtype=np.int64)
        self._idx_idle = self.node_family * len(CAPACITY_STATES) + int(CapacityState.IDLE)
        # Per-tick scratch, allocated once.
        self._st = np.zeros(nodes, dtype=np.int8)
        self._bad = np.zeros(nodes, dtype=np.bool_)
        self._share = np.zeros(nodes)
        self._busy = np.zeros(nodes)
        self._w = np.zeros(nodes)
        self._tmp = np.zeros(nodes)
        self._idx = np.zeros(nodes, dtype=np.int64)
        self._delta = np.zeros(n)
        self._slot_tmp = np.zeros(n)
        self._lost_now = np.zeros((len(FAMILIES), len(CAUSE_NAMES)))
        self._lost_total = 0.0  # sim.sched.lost.sum() when last priced
        # The fused tick (trnmon/sim/costkernel.py), or None for the numpy path. Loading
        # numba costs ~0.5 s, which a run repays after some 10^4 ticks: the meter starts
        # in numpy and switches at tick `fuse_at` (at once if numba is loaded already).
        self.kernel: MeterKernel | None = None
        self.ticks = 0
        self.fuse_at: int | None = 0 if "numba" in sys.modules else FUSE_AFTER_TICKS
        self._scratch = np.zeros((4, len(FAMILIES) * len(CAPACITY_STATES)))
        self._family_scratch = np.zeros(len(FAMILIES))
        self._ledger_s = self.ledger.node_seconds.reshape(-1)  # views, for the kernel
        self._ledger_d = self.ledger.dollars.reshape(-1)
        self.reprice(topo, pricing)

    def classify(self, sim: SimState) -> tuple[I8, F64]:
        """Per node: its `CapacityState` and, for productive nodes, the productive share.

        From scratch, with no cached state (what `step` computes incrementally)."""
        node_job = sim.sched.node_job
        held = node_job >= 0
        slot = np.where(held, node_job, sim.jobs.idle_slot)
        st = _STATE_OF_JOB[sim.jobs.state[slot]]
        st[~held] = CapacityState.UNALLOCATED
        st[~sim.sched.node_usable] = CapacityState.UNHEALTHY
        training = _TRAINING_KIND[sim.jobs.kind[slot]]
        share = np.where(training, sim.jobs.progressing[slot].astype(np.float64),
                         np.clip(sim.jobs.busy[slot], 0.0, 1.0))
        return st, share

    def _kept(self, sim: SimState, slot: int, tokens: float) -> float:
        jobs = sim.jobs
        if int(jobs.kind[slot]) in _TRAINING:
            return float(jobs.steps[slot] * jobs.tokens_per_step[slot])
        return tokens

    def _vacate(self, sim: SimState, slot: int, continuing: set[int]) -> None:
        """The slot's job left it: carry its amounts (restart) or retire them (finished)."""
        job_id = int(self.owner[slot])
        cost = self.carried.pop(job_id, None) or JobCost(job_id)
        cost.dollars += float(self.slot_dollars[slot])
        cost.tokens += float(self.slot_tokens[slot])
        cost.kept_tokens = self._kept(sim, slot, cost.tokens)
        cost.per_hour = 0.0
        if job_id in continuing:
            self.carried[job_id] = cost
        else:
            self.finished[job_id] = cost
            while len(self.finished) > FINISHED_KEPT:
                self.finished.popitem(last=False)
        self.owner[slot] = -1
        self._owner_start[slot] = np.nan
        self.slot_dollars[slot] = self.slot_tokens[slot] = self._seen[slot] = 0.0

    def _reallocated(self, sim: SimState) -> None:
        """Slots taken or freed since the last step: settle their jobs' amounts, and
        refresh what follows from the allocation."""
        jobs = sim.jobs
        # Slots whose job changed since the last step: a release, or a new placement.
        start = self._owner_start
        moved = [slot for slot, rec in jobs.records.items()
                 if self.owner[slot] != rec.job_id
                 or (start[slot] == start[slot] and start[slot] != rec.started_at)]
        freed = np.flatnonzero((self.owner >= 0) & (jobs.state == JobState.FREE))
        if moved or freed.size:
            # Requeued for a restart, or already placed again elsewhere: not finished.
            continuing = {p.job_id for q in sim.sched.queues for p in q}
            continuing.update(rec.job_id for rec in jobs.records.values())
            for slot in [*freed.tolist(), *(s for s in moved if self.owner[s] >= 0)]:
                self._vacate(sim, int(slot), continuing)
            for slot in moved:
                self.owner[slot] = jobs.records[slot].job_id
        for slot, rec in jobs.records.items():
            start[slot] = rec.started_at
        node_job = sim.sched.node_job
        held = node_job >= 0
        np.logical_not(held, out=self._unheld)
        self._node_slot[:] = np.where(held, node_job, jobs.idle_slot)
        self.slot_per_hour = np.bincount(node_job[held], weights=self.node_rate[held],
                                         minlength=self.owner.shape[0]).astype(np.float64)
        self._live[:] = self.owner >= 0
        self._slot_family[:] = 0
        self._slot_family[node_job[held]] = self.node_family[held]
        self._version = jobs.version

    def step(self, sim: SimState, dt: float) -> None:
        """Price the last `dt` seconds of the state as it is now."""
        jobs = sim.jobs
        if self.ticks == self.fuse_at:
            self.kernel = meter_kernel()
        self.ticks += 1
        if jobs.version != self._version:
            self._reallocated(sim)
        if self.kernel is not None:
            self.kernel(self._node_slot, self._unheld, sim.sched.node_usable, self.node_family,
                        self.node_rate, jobs.state, jobs.kind, jobs.progressing, jobs.busy,
                        _STATE_OF_JOB, _TRAINING_KIND, dt, self._scratch, self._ledger_s,
                        self._ledger_d, self.slot_per_hour, self._live, self._slot_family,
                        jobs.tokens_total, self._seen, self.slot_dollars, self.slot_tokens,
                        self.family_tokens, self._family_scratch)
        else:
            self._accrue_capacity(sim, dt)
            self._accrue_jobs(sim, dt)
        # Lost work, priced at the family's per-chip rate as it accrues (it only grows,
        # so its total moves whenever any entry does).
        lost = sim.sched.lost
        total = float(lost.sum())
        if total != self._lost_total:
            np.sum(lost, axis=0, out=self._lost_now)
            self.lost_dollars += ((self._lost_now - self._lost_seen)
                                  * self.family_chip_rate[:, None] / SECONDS_PER_HOUR)
            self._lost_seen[...] = self._lost_now
            self._lost_total = total

    def _accrue_jobs(self, sim: SimState, dt: float) -> None:
        """Jobs: their slots' prices, and the tokens they processed this tick."""
        np.multiply(self.slot_per_hour, dt / SECONDS_PER_HOUR, out=self._slot_tmp)
        self.slot_dollars += self._slot_tmp
        total = sim.jobs.tokens_total
        delta = self._delta
        np.subtract(total, self._seen, out=delta)
        delta *= self._live
        self.slot_tokens += delta
        np.multiply(total, self._live, out=self._seen)
        self.family_tokens += np.bincount(self._slot_family, weights=delta,
                                          minlength=len(FAMILIES))

    def _accrue_capacity(self, sim: SimState, dt: float) -> None:
        """`CapacityLedger.accrue(classify(sim))`, operation for operation, on buffers."""
        jobs, slot, st = sim.jobs, self._node_slot, self._st
        np.take(_STATE_OF_JOB, np.take(jobs.state, slot), out=st)
        np.copyto(st, int(CapacityState.UNALLOCATED), where=self._unheld)
        np.logical_not(sim.sched.node_usable, out=self._bad)
        np.copyto(st, int(CapacityState.UNHEALTHY), where=self._bad)
        # The productive share: progressing (training) or the busy share (serving); the
        # weight of the node's main state is that share if productive, else 1.
        share, w = self._share, self._w
        np.take(jobs.busy, slot, out=self._busy)
        np.clip(self._busy, 0.0, 1.0, out=share)
        training = _TRAINING_KIND[np.take(jobs.kind, slot)]
        np.copyto(share, np.take(jobs.progressing, slot), where=training)
        w.fill(1.0)
        np.copyto(w, share, where=st == int(CapacityState.PRODUCTIVE))
        ns = len(CAPACITY_STATES)
        nf = len(self.ledger.families)
        idx = self._idx
        np.multiply(self.node_family, ns, out=idx)
        idx += st
        led, tmp, per_h = self.ledger, self._tmp, dt / SECONDS_PER_HOUR
        for i, weight in ((idx, w), (self._idx_idle, None)):
            if weight is None:
                np.subtract(1.0, w, out=w)
                weight = w
            np.multiply(weight, dt, out=tmp)
            led.node_seconds += np.bincount(i, weights=tmp, minlength=nf * ns).reshape(nf, ns)
            np.multiply(weight, self.node_rate, out=tmp)
            tmp *= per_h
            led.dollars += np.bincount(i, weights=tmp, minlength=nf * ns).reshape(nf, ns)

    def jobs(self, sim: SimState) -> dict[int, JobCost]:
        """Every placed or restarting job's cost so far, by job id."""
        out = {j: JobCost(j, c.dollars, c.tokens, c.kept_tokens) for j, c in
               self.carried.items()}
        for slot in np.flatnonzero(self.owner >= 0).tolist():
            job_id = int(self.owner[slot])
            cost = out.setdefault(job_id, JobCost(job_id))
            cost.dollars += float(self.slot_dollars[slot])
            cost.tokens += float(self.slot_tokens[slot])
            cost.kept_tokens = self._kept(sim, slot, cost.tokens)
            cost.per_hour = float(self.slot_per_hour[slot])
        return out

    def job(self, sim: SimState, job_id: int) -> JobCost | None:
        """A placed, restarting or recently finished job's cost (None if unknown)."""
        return self.jobs(sim).get(job_id) or self.finished.get(job_id)

    # --- checkpoints ----------------------------------------------------------------------
    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """The meter's arrays by checkpoint key (the arrays themselves, not copies)."""
        return {"cost.dollars": self.ledger.dollars, "cost.node_seconds": self.ledger.node_seconds,
                "cost.owner": self.owner, "cost.slot_dollars": self.slot_dollars,
                "cost.slot_tokens": self.slot_tokens, "cost.slot_per_hour": self.slot_per_hour,
                "cost.seen": self._seen, "cost.family_tokens": self.family_tokens,
                "cost.lost_dollars": self.lost_dollars, "cost.lost_seen": self._lost_seen}

    def meta(self) -> dict[str, list[list[float]]]:
        """The per-job amounts outside the slots (restarting and finished jobs)."""
        def rows(d: dict[int, JobCost]) -> list[list[float]]:
            return [[c.job_id, c.dollars, c.tokens, c.kept_tokens] for c in d.values()]
        return {"carried": rows(self.carried), "finished": rows(self.finished)}

    def load_meta(self, meta: dict[str, list[list[float]]]) -> None:
        for key, target in (("carried", self.carried), ("finished", self.finished)):
            for job_id, dollars, tokens, kept in meta.get(key, []):
                target[int(job_id)] = JobCost(int(job_id), float(dollars), float(tokens),
                                              float(kept))

    def reprice(self, topo: Topology, pricing: PricingConfig) -> None:
        """New rates from a reloaded configuration; what was spent stays."""
        present = {INSTANCE_TYPES[int(i)].name for i in np.unique(topo.node_type)}
        self.node_rate = node_rates(pricing, only=present)[topo.node_type]
        self.currency = pricing.currency
        # A family's per-chip-hour rate: the mean over its instances in the fleet (exact
        # when its instance types share a per-chip price, as the catalog's defaults do).
        per_chip = self.node_rate / self._node_chips
        self.family_chip_rate = np.array([
            float(per_chip[self.node_family == f].mean()) if (self.node_family == f).any()
            else 0.0 for f in range(len(FAMILIES))])
        self._version = -1  # slot prices follow the node rates

    def burn_rate(self, sim: SimState) -> F64:
        """The fleet's cost per hour right now, by (family, capacity state)."""
        st, share = self.classify(sim)
        return self.ledger.burn_rate(self.node_family, self.node_rate, st, share)
