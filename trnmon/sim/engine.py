"""The execution core: one `step(dt)` advances workloads, scheduler, physics and faults.

Phases, in order: faults (random draws, repairs) -> scheduler events (watchdogs,
completions, arrivals, placement) -> job slowdowns when a clock or link changed -> jobs
(step times, progress, per-chip rates) -> devices (utilization ... counters). Random
numbers come from one seeded generator per scheduling cell (`trnmon/sim/cells.py`; one for
the whole fleet by default), each drawn in a fixed order, so the same config and seed give
the same trajectory, and a shard's cells step exactly as they do inside the whole fleet.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from trnmon.config.model import FleetConfig
from trnmon.sim.cells import fleet_cells, make_cells
from trnmon.sim.costmeter import CostMeter
from trnmon.sim.faultkinds import Fault, FaultKind
from trnmon.sim.faults import FaultEngine
from trnmon.sim.jobs import JobTable
from trnmon.sim.kernel import DeviceKernel, TickInputs
from trnmon.sim.rules import (
    AMBIENT_SWING_C,
    CORE_WEIGHT_SPREAD,
    EFA_FACTOR_FLOOR,
    LINK_FACTOR,
    RACK_AMBIENT_OFFSET_C,
    STEP_JITTER_SIGMA,
)
from trnmon.sim.scheduler import Scheduler
from trnmon.sim.simstate import EVENT_LOG, Event, SimState
from trnmon.sim.state import FleetState

__all__ = ["EVENT_LOG", "START_EPOCH", "Advance", "Engine", "Event", "JobsAdvance", "diurnal_load"]
from trnmon.sim.workloads import JobSpec
from trnmon.topology import Topology, build_topology

# Simulated time 0 is 2026-01-05 00:00 in Ohio (UTC-5), a Monday.
START_EPOCH = 1767589200.0

Advance = Callable[[FleetState, JobTable, TickInputs], None]
# The job tick: (jobs, dt, diurnal load factor, per-slot step-time jitter).
JobsAdvance = Callable[[JobTable, float, float, npt.NDArray[np.float64]], None]


def diurnal_load(t: float, amplitude: float) -> float:
    """Inference request-rate factor: 1.0 at 15:00 local, 1 - amplitude at 03:00."""
    hour = (t / 3600.0) % 24.0  # t=0 is local midnight
    return 1.0 - amplitude * (1.0 - math.cos(2 * math.pi * (hour - 15.0) / 24.0)) / 2.0


class Engine:
    """The emulated fleet: owns the topology, the cells' generators, the device state, the
    job table, scheduler, fault engine and device kernel, and steps them all in order.

    `advance` replaces the device tick and `jobs_advance` the job tick (the reference
    model, `trnmon/sim/reference.py`, plugs in here); by default the fast paths run.
    """

    def __init__(self, config: FleetConfig, *, advance: Advance | None = None,
                 jobs_advance: JobsAdvance | None = None,
                 topology: Topology | None = None) -> None:
        self.config = config
        self.topo = topo = topology or build_topology(config)
        self.cells = cells = make_cells(topo, config)
        self.rng = cells[0].rng  # the fleet's generator when it is one cell
        self._jitter_buf: npt.NDArray[np.float64] | None = None  # per-tick step noise
        # One cell in the whole fleet (not just in this shard): the historical draw order.
        self.single_cell = fleet_cells(topo.n_fleet_racks, config.cell_racks) == 1
        self.state = FleetState.allocate(topo)
        self.jobs = JobTable(capacity=topo.n_nodes)
        self.chip_job = np.full(topo.n_chips, self.jobs.idle_slot, dtype=np.int32)
        self.scheduler = Scheduler(topo, config, self.jobs, self.chip_job, cells)
        self.faults = FaultEngine(topo, config.faults, self.state, self.scheduler, cells)
        self.kernel = DeviceKernel(topo)
        self.jobs.backend = self.kernel.backend
        self._advance: Advance = advance or self.kernel.advance
        self._jobs_advance: JobsAdvance = jobs_advance or JobTable.advance
        # Static per-core load imbalance and per-rack ambient offsets (hot aisles).
        rack_offset = np.empty(topo.n_racks, dtype=np.float32)
        n_cores = self.kernel.core_weight.shape[1]
        for c in cells:
            self.kernel.set_core_weights(
                np.arange(c.chip_lo, c.chip_hi),
                (1.0 - CORE_WEIGHT_SPREAD * c.rng.random((c.n_chips, n_cores)))
                .astype(np.float32))
            rack_offset[c.rack_lo:c.rack_hi] = c.rng.uniform(
                *RACK_AMBIENT_OFFSET_C, size=c.rack_hi - c.rack_lo).astype(np.float32)
        # The one object holding everything that changes from here on.
        self.sim = SimState(
            devices=self.state, jobs=self.jobs, chip_job=self.chip_job,
            sched=self.scheduler.sched_state, faults=self.faults.fault_state,
            core_weight=self.kernel.core_weight,
            chip_rack_offset=rack_offset[topo.node_rack[topo.chip_node]],
            ambient=np.empty(topo.n_chips, dtype=np.float32),
            prev_throttled=self.state.throttled.copy(), rngs=[c.rng for c in cells])
        # What the fleet costs (trnmon/sim/costmeter.py), priced at the end of every tick.
        self.cost = CostMeter(topo, config.pricing, self.jobs.capacity)
        self._set_ambient()
        self.state.temp_c[:] = self.sim.ambient
        self.sim.prev_throttled[:] = self.state.throttled
        for i in range(len(cells)):
            self.scheduler.initial_fill(i, 0.0)
        self.scheduler.events.clear()
        self._refresh_slowdowns()

    # --- time ------------------------------------------------------------------------
    @property
    def t(self) -> float:
        """Simulated seconds since START_EPOCH."""
        return self.sim.clock.t

    @t.setter
    def t(self, value: float) -> None:
        self.sim.clock.t = value

    @property
    def tick(self) -> int:
        return self.sim.clock.tick

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second, for real-time drivers."""
        return self.sim.clock.speed

    @speed.setter
    def speed(self, value: float) -> None:
        self.sim.clock.speed = value

    @property
    def last_tick_s(self) -> float:
        """Wall seconds the last tick took."""
        return self.sim.clock.last_tick_s

    @property
    def events(self) -> deque[Event]:
        """The latest EVENT_LOG events, oldest first."""
        return self.sim.events

    @property
    def ambient(self) -> npt.NDArray[np.float32]:
        """Per-chip inlet temperature this tick, cooling faults included."""
        return self.sim.ambient

    @property
    def wall_time(self) -> float:
        return START_EPOCH + self.t

    def _set_ambient(self) -> None:
        # Mid-day heat: +-1.5 C over the day, warmest at 15:00 local.
        swing = AMBIENT_SWING_C * (1.0 - 2.0 * (1.0 - diurnal_load(self.t, 1.0)))
        np.add(self.sim.chip_rack_offset, self.config.ambient_celsius + swing,
               out=self.sim.ambient)
        self.sim.ambient += self.faults.ambient_offset

    # --- the tick ----------------------------------------------------------------------
    def step(self, dt: float | None = None, *, devices: bool = True) -> None:
        """Advance the fleet by dt. `devices=False` skips the per-chip device tick (power,
        temperature, counters): what a soak does, which needs only jobs, the scheduler and
        faults (the device state then stays as it was, so thermal throttling freezes)."""
        started = time.perf_counter()
        dt = float(self.config.tick_seconds if dt is None else dt)
        if not dt > 0:
            raise ValueError("dt must be positive")
        now = self.t + dt
        sched, jobs = self.scheduler, self.jobs

        # 1. faults at configured rates, and repairs that are due
        sched.now = now
        self.faults.draw(dt, now)

        # 2. scheduler: watchdogs, completions, arrivals (admitted or rejected), placement
        for slot in jobs.stalled_out():
            sched.fail_job(int(slot), "collective timeout behind a hung chip",
                           cause=self.faults.stall_cause(
                               np.flatnonzero(self.sim.chip_job == slot)))
        sched.complete_finished()
        sched.arrive(now, dt)
        sched.place_queued(now)

        # 3. job slowdowns: everything when a link changed (rare), else only the jobs that
        #    were just placed or whose chips started or stopped throttling
        if self.faults.links_changed:
            self._refresh_slowdowns()
        else:
            slots = set(sched.placed_slots)
            prev = self.sim.prev_throttled
            changed = np.flatnonzero(self.state.throttled != prev)
            if changed.size:
                slots.update(self.chip_job[changed].tolist())
                prev[changed] = self.state.throttled[changed]
            slots.discard(jobs.idle_slot)
            for slot in slots:
                self._refresh_job(slot)
        sched.placed_slots.clear()

        # 4. jobs, 5. devices
        self.t = now
        jitter = self._jitter()
        self._jobs_advance(jobs, dt, diurnal_load(now, self.config.workload.diurnal_amplitude),
                           jitter)
        jobs.accrue_goodput(self.sim.sched.goodput, sched.node_cell, dt, self.sim.sched.lost)
        self.cost.step(self.sim, dt)
        if devices:  # the inlet temperature feeds only the device tick
            self._set_ambient()
            self._advance(self.state, jobs, TickInputs(dt=dt, chip_job=self.chip_job,
                                                       node_job=sched.node_job,
                                                       ambient_c=self.ambient))
            # 6. a chip past its critical temperature shuts down (a hard fault)
            self.faults.trip_overheated(now)
        self.sim.clock.tick += 1
        self._collect_events()
        self.sim.clock.last_tick_s = time.perf_counter() - started

    def _jitter(self) -> npt.NDArray[np.float64]:
        """One step-time noise factor per job slot, each cell's slots from its generator.
        Standard normals drawn into one preallocated buffer, then scaled once: the same
        numbers as `normal(1.0, sigma)` per cell (the same draws, and loc + scale * z is
        what numpy computes), without an array per cell per tick."""
        buf = self._jitter_buf
        if buf is None:
            buf = self._jitter_buf = np.zeros(self.jobs.capacity + 1)
        if self.single_cell:
            self.rng.standard_normal(out=buf)
        else:
            for c in self.cells:
                c.rng.standard_normal(out=buf[c.node_lo:c.node_hi])
            buf[self.jobs.capacity] = 0.0  # the idle slot: no noise
        buf *= STEP_JITTER_SIGMA
        buf += 1.0
        return buf

    def run_for(self, wall_seconds: float) -> int:
        """Advance by wall_seconds x speed of simulated time in whole ticks; the remainder
        carries over, so a real-time driver never drifts. Returns the ticks run."""
        clock = self.sim.clock
        clock.owed += wall_seconds * clock.speed
        dt = self.config.tick_seconds
        ticks = int(clock.owed // dt)
        for _ in range(ticks):
            self.step(dt)
        clock.owed -= ticks * dt
        return ticks

    def _refresh_job(self, slot: int) -> None:
        """A job runs at its slowest chip's clock and its worst link's bandwidth."""
        rec = self.jobs.records.get(slot)
        if rec is None:
            return
        starts = self.topo.node_chip_start
        chips = np.concatenate([np.arange(starts[n], starts[n + 1]) for n in rec.nodes])
        dev = self.state
        self.jobs.clock[slot] = float(dev.clock_scale[chips].min())
        link = float(LINK_FACTOR[dev.link_state[chips]].min())
        if self.jobs.efa_per_step[slot] > 0:  # its collectives cross EFA
            link = min(link, max(float(self.kernel.efa_up_fraction[rec.nodes].min()),
                                 EFA_FACTOR_FLOOR))
        self.jobs.link_factor[slot] = link

    def _refresh_slowdowns(self) -> None:
        dev, jobs = self.state, self.jobs
        self.kernel.refresh_links(dev)
        jobs.clock[:] = 1.0
        np.minimum.at(jobs.clock, self.chip_job, dev.clock_scale.astype(np.float64))
        chip_link = LINK_FACTOR[dev.link_state].min(axis=1)
        # A job whose collectives cross EFA runs at most at its nodes' EFA up fraction (a
        # downed device's share of the bandwidth is gone; its bytes move to the others).
        efa = np.maximum(self.kernel.efa_up_fraction, EFA_FACTOR_FLOOR)[self.topo.chip_node]
        uses_efa = jobs.efa_per_step[self.chip_job] > 0
        np.minimum(chip_link, np.where(uses_efa, efa, 1.0), out=chip_link)
        jobs.link_factor[:] = 1.0
        np.minimum.at(jobs.link_factor, self.chip_job, chip_link)
        jobs.clock[jobs.idle_slot] = jobs.link_factor[jobs.idle_slot] = 1.0
        self.sim.prev_throttled[:] = dev.throttled
        self.faults.links_changed = False
        self.scheduler.placed_slots.clear()

    # --- control API (later exposed by the daemon) -------------------------------------
    def inject(self, kind: FaultKind | str, *, chip: int = -1, node: int = -1,
               port: int = -1, duration_s: float | None = None) -> Fault:
        kind = FaultKind(kind)
        if chip < 0 and node < 0:
            raise ValueError("a fault needs a chip or a node")
        if chip >= self.topo.n_chips or node >= self.topo.n_nodes:
            raise ValueError("no such chip or node")
        clears = None if duration_s is None else self.t + duration_s
        self.scheduler.now = self.t
        f = self.faults.raise_fault(kind, chip=chip, node=node, port=port, now=self.t,
                                    clears_at=clears, injected=True)
        self._refresh_slowdowns()
        self._collect_events()
        return f

    def clear(self, fault_id: int) -> Fault:
        if fault_id not in self.faults.active:
            raise KeyError(fault_id)
        self.scheduler.now = self.t
        f = self.faults.clear(fault_id, self.t)
        self._refresh_slowdowns()
        self._collect_events()
        return f

    def submit(self, spec: JobSpec) -> int:
        return self.scheduler.submit(spec, self.t)

    def cancel(self, job_id: int) -> bool:
        self.scheduler.now = self.t
        ok = self.scheduler.cancel(job_id)
        self._collect_events()
        return ok

    # --- events ------------------------------------------------------------------------
    def _emit(self, kind: str, severity: str, text: str, **kw: object) -> None:
        self.sim.clock.event_seq += 1
        self.sim.events.append(Event(self.sim.clock.event_seq, self.t, kind, severity, text,
                                     **kw))  # type: ignore[arg-type]

    def instance_id(self, node: int) -> str:
        """The node's current instance id (a replaced node's is new)."""
        return self.faults.instance_id(node)

    def _collect_events(self) -> None:
        topo = self.topo
        for what, f, iid in self.faults.events:
            sev = "info" if what == "cleared" else (
                "warning" if f.kind in (FaultKind.HBM_ECC_CORRECTED, FaultKind.SRAM_ECC_CORRECTED,
                                        FaultKind.LINK_DEGRADED, FaultKind.THERMAL_THROTTLE)
                else "critical")
            dev = int(topo.chip_local[f.chip]) if f.chip >= 0 else -1
            where = iid + (f" nd{dev}" if dev >= 0 else "")
            self._emit(f"fault_{what}", sev, f"{f.kind.value} {what} on {where}",
                       instance_id=iid, device=dev)
        self.faults.events.clear()
        for r in self.faults.replacements:
            old = topo.instance_id(r.node, r.old_generation)
            new = self.instance_id(r.node)
            took = self.t - r.drained_at
            after = f"{took / 3600:.1f} h" if took >= 3600 else f"{took / 60:.0f} min"
            self._emit("node_replaced", "warning",
                       f"{old} drained and replaced by {new} after {after} ({r.cause})",
                       instance_id=new)
        self.faults.replacements.clear()
        for what, job_id, text in self.scheduler.events:
            sev = "warning" if what == "failed" else "info"
            self._emit(f"job_{what}", sev, f"job {job_id} {what}: {text}", job_id=job_id)
        self.scheduler.events.clear()
