"""Goodput accounting: where every job's time goes, per job and for the fleet.

A job's time is in one of six states (`rules.GOODPUT_STATES`, always in this order):

- productive: running (training steps that count, serving requests);
- checkpoint: writing a checkpoint;
- loading: loading weights or the last checkpoint, at start and at every restart;
- lost: work since the last checkpoint when the job crashed, plus time stalled behind a
  hung chip until the watchdog fired (the work a failure threw away);
- requeue: waiting in the queue again after a crash;
- queue: waiting in the queue before the first start.

Allocated time (nodes held) is the first four; effective training time = productive /
allocated over training jobs (Llama 3's definition: the share of the job's time spent on
useful training). Per-job seconds of the current run live in job-table columns
(`JobTable.gp_*`, checkpointed with the table); what earlier runs and queue waits added
is in `Goodput` on the job's record or queue entry; fleet totals are chip-seconds per
state, for training and serving jobs, in `SchedulerState.goodput` (checkpointed). The
per-tick accrual and the crash rule are `JobTable.accrue_goodput` and
`JobTable.lose_since_checkpoint`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from trnmon.sim.rules import GOODPUT_STATES, JobKind

P, CKPT, LOAD, LOST, REQUEUE, QUEUE = range(len(GOODPUT_STATES))
ALLOCATED = slice(P, LOST + 1)
TRAINING, SERVING = 0, 1  # rows of the fleet totals


@dataclass(eq=False)
class Goodput:
    """One job's seconds in each goodput state (the named fields of `GOODPUT_STATES`)."""

    productive: float = 0.0
    checkpoint: float = 0.0
    loading: float = 0.0
    lost: float = 0.0
    requeue: float = 0.0
    queue: float = 0.0

    def as_tuple(self) -> tuple[float, ...]:
        return tuple(getattr(self, name) for name in GOODPUT_STATES)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @property
    def allocated(self) -> float:
        return self.productive + self.checkpoint + self.loading + self.lost

    @property
    def effective(self) -> float:
        """productive / allocated (1.0 before the job held any nodes)."""
        return self.productive / self.allocated if self.allocated > 0 else 1.0

    def plus(self, other: Goodput) -> Goodput:
        return Goodput(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))


def fleet_totals() -> npt.NDArray[np.float64]:
    """Zeroed fleet totals: (training, serving) x GOODPUT_STATES chip-seconds."""
    return np.zeros((2, len(GOODPUT_STATES)), dtype=np.float64)


def effective_training_time(totals: npt.NDArray[np.float64]) -> float:
    """productive / allocated chip-seconds of training jobs (1.0 with none allocated)."""
    allocated = float(totals[TRAINING, ALLOCATED].sum())
    return float(totals[TRAINING, P]) / allocated if allocated > 0 else 1.0


def add_wait(totals: npt.NDArray[np.float64], kind: JobKind, chips: int, seconds: float,
             requeued: bool) -> None:
    """A job left the queue after `seconds`: chip-seconds of queue (or requeue) time."""
    row = TRAINING if kind.training else SERVING
    totals[row, REQUEUE if requeued else QUEUE] += seconds * chips
