"""A queued job, and the error a full queue raises (the scheduler's queue entries)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trnmon.sim.goodput import Goodput
from trnmon.sim.rules import PRIORITY, PRIORITY_RESTART
from trnmon.sim.workloads import JobSpec


class QueueFullError(ValueError):
    """A submission found its cell's queue at `workload.max_queue`."""


@dataclass(eq=False)
class Pending:
    """A queued job: new, or crashed and waiting to resume from `resume_step`."""

    spec: JobSpec
    submitted_at: float
    job_id: int
    restarts: int = 0
    resume_step: float = 0.0
    elapsed: float = 0.0
    enqueued_at: float | None = None  # when it (re)joined the queue; submitted_at if None
    goodput: Goodput = field(default_factory=Goodput)  # earlier runs and waits
    cause: str = ""  # the taxonomy cause of the crash it restarts from ("" if new)

    @property
    def priority(self) -> int:
        return PRIORITY_RESTART if self.restarts else PRIORITY[self.spec.job_kind]

    @property
    def queued_since(self) -> float:
        return self.submitted_at if self.enqueued_at is None else self.enqueued_at
