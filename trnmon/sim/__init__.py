"""The execution core: fleet state as arrays, workloads, scheduler, physics and faults."""

from trnmon.sim.engine import START_EPOCH, Engine, Event
from trnmon.sim.faults import FaultKind
from trnmon.sim.rules import JobKind
from trnmon.sim.state import FleetState, Health, LinkState
from trnmon.sim.workloads import JobSpec

__all__ = ["START_EPOCH", "Engine", "Event", "FaultKind", "FleetState", "Health", "JobKind",
           "JobSpec", "LinkState"]
