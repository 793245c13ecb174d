"""Gang scheduling on whole nodes and UltraServers, completion, and restart on failure.

Everything here runs on events (an arrival, a completion, a failure), never per device per
tick: the only per-tick work is a few array lookups to find what finished or failed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trnmon.config.model import FleetConfig
from trnmon.hw.catalog import INSTANCE_TYPES, ULTRASERVER_NODES
from trnmon.sim.cells import Cell
from trnmon.sim.jobs import JobRecord, JobTable
from trnmon.sim.rules import JobKind, JobState
from trnmon.sim.simstate import SchedulerState
from trnmon.sim.workloads import MIB, JobSpec, serving_model, training_cost
from trnmon.topology import Topology

MAX_PLACEMENTS_PER_TICK = 16
MAX_QUEUE = 10_000

_FAMILY_OF_TYPE = {"trn2.48xlarge": "trn2", "trn2u.48xlarge": "trn2",
                   "trn1.32xlarge": "trn1", "inf2.48xlarge": "inf2"}


@dataclass(eq=False)
class Pending:
    """A queued job: new, or crashed and waiting to resume from `resume_step`."""

    spec: JobSpec
    submitted_at: float
    job_id: int
    restarts: int = 0
    resume_step: float = 0.0
    elapsed: float = 0.0


class Scheduler:
    """One FIFO queue per scheduling cell (`trnmon/sim/cells.py`); a job is placed on the
    nodes of one cell, in that cell's job-table slots (slots [node_lo, node_hi): a job
    takes at least one node, so a cell never runs out of slots)."""

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
            queues=[deque() for _ in cells], next_job_ids=[c.first_id for c in cells])
        self.node_cell = np.repeat(np.arange(len(cells), dtype=np.int32),
                                   [c.n_nodes for c in cells])
        fam = np.array([_FAMILY_OF_TYPE[t.name] for t in INSTANCE_TYPES])
        self.node_family = fam[topo.node_type]
        # Instance families present per cell: static, and scanning 31k nodes per arrival
        # is what made building a 500k-chip fleet slow.
        self.cell_families = [frozenset(self.node_family[c.node_lo:c.node_hi].tolist())
                              for c in cells]
        self.events: list[tuple[str, int, str]] = []  # (kind, job_id, text) since last drain
        self.placed_slots: list[int] = []  # slots placed since the engine last looked

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
        for i, c in enumerate(self.cells):
            if self.cell_capacity(spec, i) < spec.nodes:
                continue
            sl = slice(c.node_lo, c.node_hi)
            match = (self.topo.node_ultraserver[sl] >= 0) if spec.ultraserver else (
                self.node_family[sl] == spec.instance_family)
            n_free = int((free[sl] & match).sum())
            if n_free > best_free:
                best, best_free = i, n_free
        return best

    # --- submission --------------------------------------------------------------------
    def submit(self, spec: JobSpec, now: float, cell: int | None = None) -> int:
        if sum(len(q) for q in self.queues) >= MAX_QUEUE:
            raise ValueError("job queue is full")
        cell = self.pick_cell(spec) if cell is None else cell
        job_id = self.next_job_ids[cell]
        self.next_job_ids[cell] += 1
        self.queues[cell].append(Pending(spec, now, job_id))
        return job_id

    def cancel(self, job_id: int) -> bool:
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

    def random_spec(self, rng: np.random.Generator, trainium_only: bool = False,
                    cell: int = 0) -> JobSpec:
        """A plausible job for this cell (the fleet, with one cell), from the configured mix."""
        mix = self.config.workload.mix
        weights = np.array([mix.pretrain, mix.finetune, mix.inference, mix.batch_inference])
        kind = JobKind(int(rng.choice(4, p=weights / weights.sum())))
        c = self.cells[cell]
        fams = self.cell_families[cell]
        n_us = c.us_hi - c.us_lo
        eff = float(rng.uniform(self.config.workload.mfu_min, self.config.workload.mfu_max))
        hours = float(rng.exponential(self.config.workload.mean_job_hours)) + 0.25
        common = {"efficiency": eff, "duration_s": hours * 3600.0}
        if kind == JobKind.PRETRAIN and n_us and rng.random() < 0.7:
            k = int(min(n_us, rng.choice([1, 1, 2, 4, 8])))
            model = "llama3-405b" if k >= 4 else str(rng.choice(["llama3-70b", "mixtral-8x22b"]))
            return JobSpec(kind="pretrain", model=model, nodes=k * ULTRASERVER_NODES,
                           ultraserver=True, tp=16, pp=8 if k >= 4 else (4 if k >= 2 else 1),
                           global_batch=64 * k, **common)
        if kind.training:
            fam = "trn1" if ("trn1" in fams and rng.random() < 0.3) else "trn2"
            # Trn1's 32 GiB per chip cannot hold 70B training state on one node.
            model = "llama3-70b" if (kind == JobKind.PRETRAIN and fam == "trn2") else "llama3-8b"
            return JobSpec(kind=kind.label, model=model,
                           nodes=int(rng.choice([1, 2, 4])), instance_family=fam, tp=16,
                           seq_len=4096, global_batch=128, **common)
        fam = "inf2" if ("inf2" in fams and not trainium_only and rng.random() < 0.5) else "trn2"
        model = "llama3-8b" if fam == "inf2" else str(rng.choice(["llama3-70b", "llama3-8b"]))
        return JobSpec(kind=kind.label, model=model, nodes=1,
                       instance_family=fam, tp=16, peak_rps=float(rng.uniform(4, 40)),
                       prompt_tokens=int(rng.choice([512, 1024, 2048])),
                       output_tokens=int(rng.choice([128, 256, 512])), **common)

    # --- placement ---------------------------------------------------------------------
    def _candidate_nodes(self, spec: JobSpec, cell: int) -> npt.NDArray[np.intp] | None:
        c = self.cells[cell]
        free = self.node_usable[c.node_lo:c.node_hi] & (self.node_job[c.node_lo:c.node_hi] < 0)
        if spec.ultraserver:
            starts = self.topo.ultraserver_node_start[c.us_lo:c.us_hi] - c.node_lo
            if starts.size == 0 or spec.nodes % ULTRASERVER_NODES:
                return None
            whole = free[starts[:, None] + np.arange(ULTRASERVER_NODES)].all(axis=1)
            picks = np.flatnonzero(whole)[: spec.nodes // ULTRASERVER_NODES]
            if picks.size * ULTRASERVER_NODES < spec.nodes:
                return None
            return (starts[picks][:, None] + np.arange(ULTRASERVER_NODES)).ravel() + c.node_lo
        cand = np.flatnonzero(free & (self.node_family[c.node_lo:c.node_hi]
                                      == spec.instance_family))
        if cand.size < spec.nodes:
            return None
        return cand[: spec.nodes] + c.node_lo

    def try_place(self, p: Pending, now: float, cell: int = 0) -> int | None:
        """Place a pending job on free nodes of its cell; its slot, or None if it does not
        fit yet."""
        nodes = self._candidate_nodes(p.spec, cell)
        if nodes is None:
            return None
        c = self.cells[cell]
        slot = self.jobs.free_slot(c.node_lo, c.node_hi)
        topo = self.topo
        itype = topo.instance_type(int(nodes[0]))
        chip = itype.chip_spec
        chips = int(sum(topo.chip_count_per_node[nodes]))
        us = topo.node_ultraserver[nodes]
        ring = bool(len(nodes) > 1 and (us >= 0).all() and len(set(us.tolist())) == 1)
        rec = JobRecord(job_id=p.job_id, spec=p.spec, nodes=[int(n) for n in nodes],
                        submitted_at=p.submitted_at, started_at=now, restarts=p.restarts,
                        ultraserver_ring=ring, chips=chips)
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
        verb = "restarted" if p.restarts else "started"
        self.events.append((verb, p.job_id, f"{p.spec.kind} {p.spec.model} on {len(nodes)} "
                                            f"node(s)"))
        return slot

    def place_queued(self, now: float) -> None:
        """FIFO with backfill per cell, bounded per tick so a long queue cannot stall a
        tick."""
        for cell, q in enumerate(self.queues):
            for p in list(q)[:MAX_PLACEMENTS_PER_TICK]:
                if self.try_place(p, now, cell) is not None:
                    q.remove(p)

    # --- completion and failure --------------------------------------------------------
    def _free(self, slot: int) -> JobRecord:
        rec = self.jobs.release(slot)
        self.node_job[rec.nodes] = -1
        for n in rec.nodes:
            self.chip_job[self.topo.node_chip_start[n]: self.topo.node_chip_start[n + 1]] = (
                self.jobs.idle_slot)
        return rec

    def complete_finished(self) -> None:
        for slot in self.jobs.finished_slots():
            rec = self._free(int(slot))
            self.completed += 1
            self.events.append(("completed", rec.job_id, f"{rec.spec.kind} {rec.spec.model}"))

    def fail_job(self, slot: int, reason: str) -> None:
        """The job crashes; it requeues first in line and resumes from its last checkpoint."""
        jobs = self.jobs
        resume = float(jobs.checkpoint_step[slot])
        elapsed = float(jobs.elapsed[slot])
        rec = self._free(slot)
        self.failed += 1
        cell = int(self.node_cell[rec.nodes[0]])
        self.queues[cell].appendleft(Pending(rec.spec, rec.submitted_at, rec.job_id,
                                             restarts=rec.restarts + 1, resume_step=resume,
                                             elapsed=elapsed))
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
        """Occupy `initial_fill` of the cell with jobs already part-way through."""
        rng = self.cells[cell].rng
        target = self.config.workload.initial_fill * self.cells[cell].n_chips
        used = 0
        misses = 0  # consecutive: a job that does not fit is followed by smaller ones
        while used < target and misses < 64:
            spec = self.random_spec(rng, cell=cell)
            slot = self.try_place(Pending(spec, now, self.next_job_ids[cell]), now, cell)
            if slot is None:
                misses += 1
                continue
            misses = 0
            self.next_job_ids[cell] += 1
            self.jobs.state[slot] = JobState.RUNNING
            self.jobs.timer[slot] = 0.0
            self.jobs.elapsed[slot] = float(rng.uniform(0, 0.8)) * spec.duration_s
            self.jobs.since_checkpoint[slot] = float(rng.uniform(0, 1)) * (
                self.config.workload.checkpoint_interval_s)
            used += self.jobs.records[slot].chips
        self.events.clear()
