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

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trnmon.config.model import PricingConfig
from trnmon.hw.catalog import INSTANCE_TYPES
from trnmon.sim.cost import (
    FAMILIES,
    SECONDS_PER_HOUR,
    CapacityLedger,
    CapacityState,
    family_of,
    node_rates,
    tokens_per_dollar,
)
from trnmon.sim.rules import JobKind, JobState
from trnmon.sim.simstate import SimState
from trnmon.topology import Topology

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]
_TRAINING = (int(JobKind.PRETRAIN), int(JobKind.FINETUNE))
FINISHED_KEPT = 1024
_WAITING = (int(JobState.LOADING), int(JobState.CHECKPOINTING), int(JobState.STALLED))


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
    """Accrues job and capacity cost from a `SimState`; call `step` after every tick."""

    def __init__(self, topo: Topology, pricing: PricingConfig) -> None:
        present = {INSTANCE_TYPES[int(i)].name for i in np.unique(topo.node_type)}
        self.currency = pricing.currency
        self.node_rate: F64 = node_rates(pricing, only=present)[topo.node_type]
        fam_of_type = np.array([FAMILIES.index(family_of(t.name)) for t in INSTANCE_TYPES],
                               dtype=np.int64)
        self.node_family = fam_of_type[topo.node_type]
        self.ledger = CapacityLedger(FAMILIES)
        self.jobs: dict[int, JobCost] = {}  # placed or queued jobs
        self.finished: OrderedDict[int, JobCost] = OrderedDict()  # the latest finished
        self._slot_owner: dict[int, int] = {}  # slot -> job id last seen there
        self._slot_tokens: dict[int, float] = {}  # slot -> tokens_total last seen

    def classify(self, sim: SimState) -> tuple[I8, F64]:
        """Per node: its `CapacityState` and, for productive nodes, the productive share."""
        node_job = sim.sched.node_job
        held = node_job >= 0
        slot = np.where(held, node_job, sim.jobs.idle_slot)
        jstate = sim.jobs.state[slot].astype(np.int64)
        kind = sim.jobs.kind[slot].astype(np.int64)
        st = np.full(node_job.shape, int(CapacityState.PRODUCTIVE), dtype=np.int8)
        st[np.isin(jstate, _WAITING)] = CapacityState.CHECKPOINT_RESTART
        st[~held] = CapacityState.UNALLOCATED
        st[~sim.sched.node_usable] = CapacityState.UNHEALTHY
        training = np.isin(kind, _TRAINING)
        share = np.where(training, sim.jobs.progressing[slot].astype(np.float64),
                         np.clip(sim.jobs.busy[slot], 0.0, 1.0))
        return st, share

    def step(self, sim: SimState, dt: float) -> None:
        """Price the last `dt` seconds of the state as it is now."""
        st, share = self.classify(sim)
        self.ledger.accrue(self.node_family, self.node_rate, st, share, dt)
        node_job = sim.sched.node_job
        held = node_job >= 0
        n = sim.jobs.capacity + 1
        per_hour = np.bincount(node_job[held], weights=self.node_rate[held], minlength=n)
        jobs = sim.jobs
        for slot, rec in jobs.records.items():
            cost = self.jobs.get(rec.job_id)
            if cost is None:
                cost = self.jobs[rec.job_id] = JobCost(rec.job_id)
            if self._slot_owner.get(slot) != rec.job_id:  # placed (or re-placed) here
                self._slot_owner[slot] = rec.job_id
                self._slot_tokens[slot] = 0.0
            cost.per_hour = float(per_hour[slot])
            cost.dollars += cost.per_hour * dt / SECONDS_PER_HOUR
            total = float(jobs.tokens_total[slot])
            cost.tokens += total - self._slot_tokens[slot]
            self._slot_tokens[slot] = total
            if int(jobs.kind[slot]) in _TRAINING:
                cost.kept_tokens = float(jobs.steps[slot] * jobs.tokens_per_step[slot])
            else:
                cost.kept_tokens = cost.tokens
        for slot in [s for s in self._slot_owner if s not in jobs.records]:
            del self._slot_owner[slot], self._slot_tokens[slot]
        # Jobs neither placed nor queued (for a restart) have finished: keep the last
        # FINISHED_KEPT of them, so the meter stays bounded over months.
        live = {rec.job_id for rec in jobs.records.values()}
        queued = {p.job_id for q in sim.sched.queues for p in q}
        for job_id in [j for j in self.jobs if j not in live]:
            cost = self.jobs[job_id]
            cost.per_hour = 0.0
            if job_id not in queued:
                self.finished[job_id] = self.jobs.pop(job_id)
        while len(self.finished) > FINISHED_KEPT:
            self.finished.popitem(last=False)

    def job(self, job_id: int) -> JobCost | None:
        """A placed, queued or recently finished job's cost (None if unknown)."""
        return self.jobs.get(job_id) or self.finished.get(job_id)

    def burn_rate(self, sim: SimState) -> F64:
        """The fleet's cost per hour right now, by (family, capacity state)."""
        st, share = self.classify(sim)
        return self.ledger.burn_rate(self.node_family, self.node_rate, st, share)
