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
    """Accrues job and capacity cost from a `SimState`; call `step` after every tick.

    Per-job amounts live in per-slot arrays while a job holds a slot (vectorized, so a
    tick costs a few array operations however many jobs run) and move to `carried` when
    the job leaves it: to be added to its next placement after a restart, or kept among
    the latest `FINISHED_KEPT` finished jobs.
    """

    def __init__(self, topo: Topology, pricing: PricingConfig, capacity: int) -> None:
        present = {INSTANCE_TYPES[int(i)].name for i in np.unique(topo.node_type)}
        self.currency = pricing.currency
        self.node_rate: F64 = node_rates(pricing, only=present)[topo.node_type]
        fam_of_type = np.array([FAMILIES.index(family_of(t.name)) for t in INSTANCE_TYPES],
                               dtype=np.int64)
        self.node_family = fam_of_type[topo.node_type]
        self.ledger = CapacityLedger(FAMILIES)
        n = capacity + 1  # the job table's slots, the idle slot included
        self.owner = np.full(n, -1, dtype=np.int64)  # job id holding each slot
        self.slot_dollars = np.zeros(n)
        self.slot_tokens = np.zeros(n)  # processed since the job was placed in the slot
        self.slot_per_hour: F64 = np.zeros(n)
        self._seen = np.zeros(n)  # the slot's tokens_total at the last step
        self.family_tokens = np.zeros(len(FAMILIES))  # tokens processed, by family
        self.carried: dict[int, JobCost] = {}  # jobs between placements (restarting)
        self.finished: OrderedDict[int, JobCost] = OrderedDict()  # the latest finished

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
        self.slot_dollars[slot] = self.slot_tokens[slot] = self._seen[slot] = 0.0

    def step(self, sim: SimState, dt: float) -> None:
        """Price the last `dt` seconds of the state as it is now."""
        st, share = self.classify(sim)
        self.ledger.accrue(self.node_family, self.node_rate, st, share, dt)
        jobs = sim.jobs
        # Slots whose job changed since the last step: a release, or a new placement.
        moved = [slot for slot, rec in jobs.records.items()
                 if self.owner[slot] != rec.job_id]
        freed = np.flatnonzero((self.owner >= 0) & (jobs.state == JobState.FREE))
        if moved or freed.size:
            # Requeued for a restart, or already placed again elsewhere: not finished.
            continuing = {p.job_id for q in sim.sched.queues for p in q}
            continuing.update(rec.job_id for rec in jobs.records.values())
            for slot in [*freed.tolist(), *(s for s in moved if self.owner[s] >= 0)]:
                self._vacate(sim, int(slot), continuing)
            for slot in moved:
                self.owner[slot] = jobs.records[slot].job_id
        node_job = sim.sched.node_job
        held = node_job >= 0
        self.slot_per_hour = np.bincount(node_job[held], weights=self.node_rate[held],
                                         minlength=self.owner.shape[0]).astype(np.float64)
        live = self.owner >= 0
        self.slot_dollars += np.where(live, self.slot_per_hour * (dt / SECONDS_PER_HOUR), 0.0)
        total = jobs.tokens_total
        delta = np.where(live, total - self._seen, 0.0)
        self.slot_tokens += delta
        self._seen = np.where(live, total, 0.0)
        slot_family = np.zeros(self.owner.shape[0], dtype=np.int64)
        slot_family[node_job[held]] = self.node_family[held]
        self.family_tokens += np.bincount(slot_family, weights=delta,
                                          minlength=len(FAMILIES))

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
                "cost.seen": self._seen, "cost.family_tokens": self.family_tokens}

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

    def burn_rate(self, sim: SimState) -> F64:
        """The fleet's cost per hour right now, by (family, capacity state)."""
        st, share = self.classify(sim)
        return self.ledger.burn_rate(self.node_family, self.node_rate, st, share)
