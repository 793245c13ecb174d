"""Immutable fleet snapshots: what every consumer (exporter, API, TUI) reads.

A snapshot holds read-only copies of the state arrays plus the (immutable) topology, so it
can cross threads freely while the engine keeps ticking. Aggregates at every level of the
hierarchy are reductions over contiguous ranges (``np.add.reduceat``), never Python loops.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

from trnmon.sim.cost import CAPACITY_STATES, family_of
from trnmon.sim.costmeter import JobCost
from trnmon.sim.engine import Engine, Event
from trnmon.sim.jobmix import FAMILIES
from trnmon.sim.rules import JobState
from trnmon.sim.state import LATENCY_SHAPE, FleetState, Health
from trnmon.snapshot.processes import RuntimeProcess, runtime_process
from trnmon.topology import Topology

F64 = npt.NDArray[np.float64]
Level = Literal["node", "ultraserver", "rack", "row", "datacenter", "az", "fleet"]
Reduce = Literal["sum", "mean", "max", "min"]


@dataclass(frozen=True, slots=True)
class SchedulerView:
    """The scheduler's fleet-wide numbers: queue by family, admission, waits, goodput."""

    queue_by_family: tuple[tuple[str, int], ...] = ()
    rejected: int = 0
    placements: int = 0
    wait_hist: tuple[float, ...] = ()  # placements by WAIT_BUCKETS_S bucket (+Inf last)
    wait_sum: float = 0.0
    goodput: tuple[tuple[float, ...], ...] = ()  # (training, serving) x GOODPUT_STATES
    interruptions: tuple[tuple[str, int], ...] = ()
    lost_families: tuple[str, ...] = ()
    lost: tuple[tuple[float, ...], ...] = ()  # (family, taxonomy cause) lost chip-seconds


@dataclass(frozen=True, slots=True)
class CostView:
    """What the fleet's capacity has cost, by instance family and capacity state."""

    currency: str = "USD"
    families: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    dollars: tuple[tuple[float, ...], ...] = ()  # (family, state) counters
    burn_per_hour: tuple[tuple[float, ...], ...] = ()  # (family, state) rate now
    lost_dollars: tuple[tuple[float, ...], ...] = ()  # (family, taxonomy cause) counters

    @property
    def burn_total(self) -> float:
        return sum(map(sum, self.burn_per_hour))

    def burn_share(self, *states: str) -> float:
        """The share of the burn rate now that goes to `states` (0 with nothing burning)."""
        total = self.burn_total
        idx = [self.states.index(s) for s in states]
        part = sum(row[i] for row in self.burn_per_hour for i in idx)
        return part / total if total > 0 else 0.0


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as consumers see it in a snapshot."""

    job_id: int
    name: str
    kind: str
    model: str
    state: str
    instance_ids: tuple[str, ...]
    nodes: tuple[int, ...]
    chips: int
    step_s: float
    tokens_per_s: float
    tokens_total: float
    mfu: float
    steps: float
    progress: float  # 0..1 of the job's duration
    restarts: int
    started_at: float
    submitted_at: float
    seed: int = 0  # the fleet's: runtime processes derive from it
    ttft_s: float = 0.0  # serving: time to first token (0 for training)
    itl_s: float = 0.0  # serving: inter-token latency, the live decode step (0 for training)
    # goodput seconds by state (trnmon/sim/goodput.py), earlier runs and waits included
    productive_s: float = 0.0
    checkpoint_s: float = 0.0
    loading_s: float = 0.0
    lost_s: float = 0.0
    requeue_s: float = 0.0
    queue_s: float = 0.0
    effective_training_time: float = 1.0  # productive / allocated
    # cost (trnmon/sim/costmeter.py), in the fleet's pricing currency
    cost_dollars: float = 0.0  # so far, all placements
    cost_per_hour: float = 0.0  # burn rate of its nodes now
    tokens_per_dollar: float = 0.0
    goodput_tokens_per_dollar: float = 0.0  # tokens kept (not rolled back) per dollar

    def process_on(self, node: int, cores_per_node: int) -> RuntimeProcess | None:
        """The job's runtime process on `node` (made on demand: a tick of a large fleet
        should not hash a pid for every node of every job)."""
        if node not in self.nodes:
            return None
        return runtime_process(self.seed, self.job_id, node, name=self.name, kind=self.kind,
                               model=self.model, nodes=len(self.nodes),
                               cores_per_node=cores_per_node)


@dataclass(frozen=True, slots=True)
class FaultView:
    """An active fault as consumers see it in a snapshot."""

    fault_id: int
    kind: str
    instance_id: str
    node: int
    device: int  # -1 for node faults
    chip: int
    port: int
    started_at: float
    clears_at: float | None
    injected: bool


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """A queued job as consumers see it in a snapshot."""

    job_id: int
    kind: str
    model: str
    nodes: int
    restarts: int


def _job_cost(c: JobCost | None) -> dict[str, float]:
    if c is None:
        return {}
    return {"cost_dollars": c.dollars, "cost_per_hour": c.per_hour,
            "tokens_per_dollar": c.tokens_per_dollar,
            "goodput_tokens_per_dollar": c.goodput_tokens_per_dollar}


@dataclass(frozen=True, eq=False)
class FleetSnapshot:
    """An immutable copy of the engine's visible state at one tick, with the topology and
    aggregation helpers every consumer (exporter, API, TUI) reads."""

    topology: Topology
    tick: int
    t: float  # simulated seconds since start
    wall_time: float  # unix time of the simulated clock
    tick_duration_s: float  # wall time the last tick took
    state: FleetState  # read-only copies
    chip_job_id: npt.NDArray[np.int64]  # 0 = idle
    jobs: tuple[JobView, ...]
    queued: tuple[QueuedJob, ...]
    faults: tuple[FaultView, ...]
    events: tuple[Event, ...]
    scheduler: SchedulerView = SchedulerView()
    cost: CostView = CostView()

    @classmethod
    def capture(cls, eng: Engine) -> FleetSnapshot:
        """Read-only copies of what consumers see of the engine's `SimState`."""
        sim = eng.sim
        topo, jobs = eng.topo, sim.jobs
        ids = np.zeros(jobs.capacity + 1, dtype=np.int64)
        views = []
        seed = eng.config.seed
        costs = eng.cost.jobs(sim)
        for slot, rec in sorted(jobs.records.items(), key=lambda kv: kv[1].job_id):
            ids[slot] = rec.job_id
            name = rec.spec.name or f"{rec.spec.kind}-{rec.job_id}"
            gp = jobs.job_goodput(slot)
            views.append(JobView(
                job_id=rec.job_id, name=name,
                kind=rec.spec.kind, model=rec.spec.model,
                state=JobState(int(jobs.state[slot])).name.lower(),
                instance_ids=tuple(eng.instance_id(n) for n in rec.nodes),
                nodes=tuple(rec.nodes), chips=rec.chips, step_s=float(jobs.step_s[slot]),
                tokens_per_s=float(jobs.tokens_per_s[slot]),
                tokens_total=float(jobs.tokens_total[slot]), mfu=float(jobs.mfu[slot]),
                steps=float(jobs.steps[slot]),
                progress=float(min(1.0, jobs.elapsed[slot] / max(jobs.duration[slot], 1e-9))),
                restarts=rec.restarts, started_at=rec.started_at,
                submitted_at=rec.submitted_at, seed=seed, ttft_s=rec.ttft_s,
                itl_s=0.0 if rec.spec.job_kind.training else float(jobs.step_s[slot]),
                **{f"{k}_s": v for k, v in gp.as_dict().items()},
                effective_training_time=gp.effective,
                **_job_cost(costs.get(rec.job_id))))
        chip_job_id = ids[sim.chip_job]
        chip_job_id.setflags(write=False)
        faults = tuple(FaultView(
            fault_id=f.fault_id, kind=f.kind.value, instance_id=eng.instance_id(f.node),
            node=f.node, device=int(topo.chip_local[f.chip]) if f.chip >= 0 else -1,
            chip=f.chip, port=f.port, started_at=f.started_at, clears_at=f.clears_at,
            injected=f.injected) for f in sim.faults.active.values())
        queued = tuple(QueuedJob(p.job_id, p.spec.kind, p.spec.model, p.spec.nodes, p.restarts)
                       for q in sim.sched.queues for p in q)
        clock = sim.clock
        sst = sim.sched
        by_family = dict.fromkeys(FAMILIES, 0)
        for q in sst.queues:
            for p in q:
                by_family[p.spec.instance_family] += 1
        sched = SchedulerView(
            queue_by_family=tuple(by_family.items()), rejected=sst.rejected,
            placements=sst.placements,
            wait_hist=tuple(float(x) for x in sst.wait_hist.sum(axis=0)),
            wait_sum=sst.wait_sum, goodput=tuple(tuple(float(x) for x in row)
                                                 for row in sst.goodput.sum(axis=0)),
            interruptions=tuple(sorted(sst.interruptions.items())),
            lost_families=FAMILIES,
            lost=tuple(tuple(float(x) for x in row) for row in sst.lost.sum(axis=0)))
        meter = eng.cost
        cost = CostView(
            currency=meter.currency, families=meter.ledger.families,
            states=tuple(st.label for st in CAPACITY_STATES),
            dollars=tuple(tuple(float(x) for x in row) for row in meter.ledger.dollars),
            burn_per_hour=tuple(tuple(float(x) for x in row) for row in meter.burn_rate(sim)),
            lost_dollars=tuple(tuple(float(x) for x in row) for row in meter.lost_dollars))
        return cls(topology=topo, scheduler=sched, cost=cost, tick=clock.tick, t=clock.t,
                   wall_time=eng.wall_time,
                   tick_duration_s=clock.last_tick_s, state=sim.devices.read_only_copy(),
                   chip_job_id=chip_job_id, jobs=tuple(views), queued=queued,
                   faults=faults, events=tuple(sim.events))

    # --- instances ---------------------------------------------------------------------
    def instance_id(self, node: int) -> str:
        """The node's current instance id: a new one after each replacement."""
        return self.topology.instance_id(node, int(self.state.node_generation[node]))

    @cached_property
    def instance_ids(self) -> tuple[str, ...]:
        """Every node's current instance id, in node order."""
        topo, gen = self.topology, self.state.node_generation
        if not gen.any():
            return topo.instance_ids
        return tuple(topo.instance_id(n, int(g)) for n, g in enumerate(gen.tolist()))

    def node_index(self, key: str) -> int:
        """Node index from a current instance id, or what `Topology.node_index` accepts (a
        node's first instance id, a decimal index); KeyError if unknown."""
        gen = self.state.node_generation
        if gen.any():
            for n in np.flatnonzero(gen).tolist():
                if self.instance_id(n) == key:
                    return n
        return self.topology.node_index(key)

    def replacements_by_family(self) -> dict[str, int]:
        """Nodes replaced since the start, by instance family (trn2, trn1, inf2)."""
        topo = self.topology
        out = dict.fromkeys(FAMILIES, 0)
        gen = self.state.node_generation
        for n in np.flatnonzero(gen).tolist():
            out[family_of(topo.instance_type(n).name)] += int(gen[n])
        return out

    # --- derived per-device views ------------------------------------------------------
    @cached_property
    def link_rx_bytes(self) -> F64:
        """Bytes received on each port = bytes the peer sent on the reverse port."""
        topo = self.topology
        rx = np.zeros_like(self.state.link_tx_bytes)
        valid = topo.port_valid
        rx[valid] = self.state.link_tx_bytes[topo.port_peer[valid], topo.port_peer_port[valid]]
        rx.setflags(write=False)
        return rx

    def latency_percentiles(self, chips: slice | npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
        """(chips, 7) p0 ... p100 in seconds from each chip's median and the fixed shape."""
        result: npt.NDArray[np.float32] = self.state.latency_p50_s[chips][:, None] * (
            LATENCY_SHAPE[None, :])
        return result

    @cached_property
    def chip_util(self) -> npt.NDArray[np.float32]:
        """Mean utilization over a chip's real cores."""
        cores = self.topology.chip_cores.astype(np.float32)
        result: npt.NDArray[np.float32] = self.state.core_util.sum(axis=1) / cores
        return result

    @cached_property
    def hbm_used_total(self) -> npt.NDArray[np.float32]:
        result: npt.NDArray[np.float32] = self.state.hbm_used.sum(axis=1)
        return result

    @cached_property
    def hbm_capacity(self) -> F64:
        from trnmon.hw.catalog import CHIPS

        cap = np.array([CHIPS[k].hbm_bytes for k in sorted(CHIPS)], dtype=np.float64)
        return cap[self.topology.chip_kind]

    # --- aggregation ---------------------------------------------------------------------
    def _offsets(self, level: Level) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Chip offsets of each group at a level, and the group count."""
        topo = self.topology
        node_start = topo.node_chip_start
        if level == "node":
            starts = node_start[:-1]
        elif level == "ultraserver":
            starts = node_start[topo.ultraserver_node_start]
        elif level == "rack":
            starts = node_start[topo.rack_node_start[:-1]]
        else:
            key = {"row": topo.rack_az * 10**8 + topo.rack_dc * 10**4 + topo.rack_row,
                   "datacenter": topo.rack_az * 10**4 + topo.rack_dc,
                   "az": topo.rack_az, "fleet": np.zeros(topo.n_racks, dtype=np.int32)}[level]
            first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            starts = node_start[topo.rack_node_start[first]]
        return starts.astype(np.int64), np.diff(np.r_[starts, topo.n_chips]).astype(np.int64)

    def aggregate(self, per_chip: npt.ArrayLike, level: Level, how: Reduce = "sum") -> F64:
        """Reduce a per-chip array over every group of a level (UltraServers skip
        standalone chips, which belong to no UltraServer)."""
        values = np.asarray(per_chip, dtype=np.float64)
        starts, sizes = self._offsets(level)
        if level == "ultraserver":
            sizes = np.full(starts.shape, 64, dtype=np.int64)
        if starts.size == 0:
            return np.zeros(0)
        if level == "ultraserver":
            groups = values[(starts[:, None] + np.arange(64)).ravel()].reshape(-1, 64)
            reduced = {"sum": groups.sum, "mean": groups.mean, "max": groups.max,
                       "min": groups.min}[how](axis=1)
            return np.asarray(reduced, dtype=np.float64)
        if how == "mean":
            return np.add.reduceat(values, starts) / sizes
        ufunc = {"sum": np.add, "max": np.maximum, "min": np.minimum}[how]
        return np.asarray(ufunc.reduceat(values, starts), dtype=np.float64)

    @cached_property
    def node_summary(self) -> dict[str, F64]:
        """Per-node aggregates: the fleet table of the API and the TUI."""
        dev = self.state
        busy = (self.chip_util > 0.05).astype(np.float64)
        unhealthy = (dev.health >= Health.FAILED).astype(np.float64)
        return {
            "chips": self.aggregate(np.ones(self.topology.n_chips), "node"),
            "busy_chips": self.aggregate(busy, "node"),
            "unhealthy_chips": self.aggregate(unhealthy, "node"),
            "utilization": self.aggregate(self.chip_util, "node", "mean"),
            "hbm_used_bytes": self.aggregate(self.hbm_used_total, "node"),
            "hbm_total_bytes": self.aggregate(self.hbm_capacity, "node"),
            "power_watts": self.aggregate(dev.power_w, "node"),
            "temperature_max_celsius": self.aggregate(dev.temp_c, "node", "max"),
            "health_worst": self.aggregate(dev.health, "node", "max"),
            "throttled_chips": self.aggregate(dev.throttled, "node"),
            "up": dev.node_up.astype(np.float64),
        }

    def fleet_totals(self) -> dict[str, float]:
        s = self.node_summary
        return {
            "nodes": float(self.topology.n_nodes),
            "nodes_up": float(s["up"].sum()),
            "chips": float(self.topology.n_chips),
            "busy_chips": float(s["busy_chips"].sum()),
            "unhealthy_chips": float(s["unhealthy_chips"].sum()),
            "utilization": float(self.chip_util.mean()),
            "hbm_used_bytes": float(s["hbm_used_bytes"].sum()),
            "hbm_total_bytes": float(s["hbm_total_bytes"].sum()),
            "power_watts": float(self.state.power_w.sum()),
            "jobs": float(len(self.jobs)),
            "queued_jobs": float(len(self.queued)),
            "active_faults": float(len(self.faults)),
        }
