"""The execution core: fleet state as arrays, workloads, scheduler, physics and faults.

`Engine` steps the fleet; everything it mutates is one `SimState` (`simstate.py`); the
model's codes and coefficients are the rulebook (`rules.py`); `reference.py` is the
executable specification the fast kernels are tested against."""

from trnmon.sim.engine import START_EPOCH, Engine, Event
from trnmon.sim.faultkinds import FaultKind
from trnmon.sim.rules import Health, JobKind, LinkState
from trnmon.sim.simstate import SimState
from trnmon.sim.state import FleetState
from trnmon.sim.workloads import JobSpec

__all__ = ["START_EPOCH", "Engine", "Event", "FaultKind", "FleetState", "Health", "JobKind",
           "JobSpec", "LinkState", "SimState"]
