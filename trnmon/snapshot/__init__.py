"""Immutable snapshots of the fleet, with aggregation at every level."""

from trnmon.snapshot.processes import RuntimeProcess
from trnmon.snapshot.snapshot import (
    CostView,
    FaultView,
    FleetSnapshot,
    JobView,
    QueuedJob,
    SchedulerView,
)

__all__ = ["CostView", "FaultView", "FleetSnapshot", "JobView", "QueuedJob", "RuntimeProcess",
           "SchedulerView"]
