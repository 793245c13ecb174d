"""One explicit simulation state: everything the engine mutates, in one object.

`SimState` holds the device arrays (`FleetState`), the job table (`JobTable`: columns
and records), the scheduler's slot maps, queues and counters (`SchedulerState`), the
fault registry and its per-chip arrays (`FaultState`), the values drawn at start (core
weights, rack inlet offsets), the clock (`Clock`: simulated time, tick, owed time, speed,
event sequence), the event log and the cells' random generators. The engine's parts
(scheduler, fault engine, kernel) hold references into it and nothing else that changes;
what they keep besides is fixed by the topology and config.

Checkpoints (`trnmon/sim/checkpoint.py`), the shard-equality tests and snapshots read this
object: `SimState.arrays()` is the declared list of every array with its checkpoint key.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from trnmon.sim.jobs import JobTable
from trnmon.sim.state import FleetState

EVENT_LOG = 512  # events kept for consumers (snapshots, the daemon's /events)
# Upper bounds of the queue-wait histogram's buckets (the last bucket is +Inf).
WAIT_BUCKETS_S = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
                  259200.0)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
B = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Event:
    """Something an operator wants to see in a log: a fault, a repair, a job transition."""

    seq: int
    t: float
    kind: str
    severity: str  # info | warning | critical
    text: str
    instance_id: str = ""
    device: int = -1
    job_id: int = 0


@dataclass(eq=False)
class Clock:
    """The engine's scalars: simulated time and everything that counts ticks or events."""

    t: float = 0.0  # simulated seconds since START_EPOCH
    tick: int = 0
    owed: float = 0.0  # simulated time a real-time driver has not ticked yet
    speed: float = 1.0  # simulated seconds per wall second, for real-time drivers
    last_tick_s: float = 0.0  # wall seconds the last tick took (not part of the trajectory)
    event_seq: int = 0  # sequence number of the last event


@dataclass(eq=False)
class SchedulerState:
    """What the scheduler mutates: slot maps, one priority queue per cell, ids, counters,
    goodput totals (`trnmon/sim/goodput.py`) and the arrival controller's averages.

    `queues` holds `trnmon.sim.scheduler.Pending` entries."""

    node_job: I32  # (N,) job slot per node, -1 = none
    node_usable: B  # (N,) up and no failed chip
    queues: list[deque[Any]]
    next_job_ids: list[int]  # per cell
    # Per scheduling cell (first axis), so a shard's rows are its cells' rows:
    goodput: F64  # (cells, 2, 6) chip-seconds: (training, serving) x rules.GOODPUT_STATES
    alloc_avg: F64  # (cells, 3) allocated share per family (jobmix.FAMILIES), averaged
    wait_hist: F64  # (cells, len(WAIT_BUCKETS_S) + 1) queue waits of placed jobs by bucket
    # (cells, len(jobmix.FAMILIES), len(taxonomy.CAUSES)) chip-seconds interruptions threw
    # away, by the job's family and the interruption's cause (`JobTable.lose_since_checkpoint`
    # and the restart's reload in `JobTable.accrue_goodput`)
    lost: F64
    completed: int = 0
    failed: int = 0
    rejected: int = 0  # arrivals turned away by admission control (queue full)
    placements: int = 0  # jobs started or restarted on nodes
    wait_sum: float = 0.0  # seconds, over every placement
    interruptions: dict[str, int] = field(default_factory=dict)  # job crashes by cause


@dataclass(eq=False)
class FaultState:
    """What the fault engine mutates: the active faults (`trnmon.sim.faults.Fault` by id),
    the next fault id per cell and the per-chip arrays faults act through."""

    active: dict[int, Any]
    next_ids: list[int]  # per cell
    ecc_cdf: F64  # (C,) each cell's CDF of the heavy-tailed correctable-ECC weights
    ambient_offset: F32  # (C,) cooling failures
    storm_rate: F64  # (C, 2) injected correctable-ECC storms, events/s: (mem, sram)
    links_changed: bool = False  # a link changed state since the engine last looked


@dataclass(eq=False)
class SimState:
    """Everything the engine mutates (see the module docstring)."""

    devices: FleetState
    jobs: JobTable
    chip_job: I32  # (C,) job slot per chip; the idle slot when none
    sched: SchedulerState
    faults: FaultState
    core_weight: F32  # (C, K) static per-core load share, drawn at start
    chip_rack_offset: F32  # (C,) the chip's rack inlet offset, drawn at start
    ambient: F32  # (C,) inlet temperature this tick, fault offsets included
    prev_throttled: B  # (C,) throttled at the last slowdown refresh
    rngs: list[np.random.Generator]  # one per scheduling cell, the cells' own
    clock: Clock = field(default_factory=Clock)
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=EVENT_LOG))

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Every array of the state by its checkpoint key (the arrays, not copies).

        The keys are those of checkpoint format version 1, so files written before this
        object existed restore unchanged."""
        out: dict[str, npt.NDArray[Any]] = {}
        out.update({f"state.{k}": v for k, v in self.devices.arrays().items()})
        out.update({f"jobs.{k}": v for k, v in self.jobs.columns().items()})
        out.update({
            "engine.chip_job": self.chip_job,
            "sched.node_job": self.sched.node_job,
            "sched.node_usable": self.sched.node_usable,
            "sched.goodput": self.sched.goodput,
            "sched.alloc_avg": self.sched.alloc_avg,
            "sched.wait_hist": self.sched.wait_hist,
            "sched.lost": self.sched.lost,
            "faults.ecc_cdf": self.faults.ecc_cdf,
            "faults.ambient_offset": self.faults.ambient_offset,
            "faults.storm_rate": self.faults.storm_rate,
            "kernel.core_weight": self.core_weight,
            "engine.chip_rack_offset": self.chip_rack_offset,
            "engine.ambient": self.ambient,
            "engine._prev_throttled": self.prev_throttled,
        })
        return out

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays().values())
