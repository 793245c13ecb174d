"""Immutable snapshots of the fleet, with aggregation at every level."""

from trnmon.snapshot.processes import RuntimeProcess
from trnmon.snapshot.snapshot import FaultView, FleetSnapshot, JobView, QueuedJob, SchedulerView

__all__ = ["FaultView", "FleetSnapshot", "JobView", "QueuedJob", "RuntimeProcess",
           "SchedulerView"]
