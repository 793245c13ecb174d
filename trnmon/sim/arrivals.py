"""Offered load as a target: arrivals per instance family that hold a target allocation.

For every family of every scheduling cell, jobs arrive as a Poisson process whose rate is

    feed-forward  = target x healthy nodes / E[nodes x duration]   (jobs per second)
    rate          = feed-forward x clip(1 + g_gap x gap + g_avg x (target - avg), 0, max)

where gap = (target x healthy - allocated - queued nodes) / healthy is how far the family
is from its target now, counting queued demand (so the queue cannot grow without bound),
and avg is an exponential average of the allocated share (so the daily allocation holds
the target even when a family has three nodes). E[nodes x duration] comes from a
fixed-seed sample of the job mix (`trnmon/sim/jobmix.py`), caps included. Gains are in
`trnmon/sim/rules.py`; the averages are part of the scheduler's state (checkpointed).

With `workload.arrivals_per_hour` set, arrivals are instead a fixed Poisson rate per
1,000 chips (a what-if and test knob), spread over the cell's families by node count.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trnmon.config.model import WorkloadConfig
from trnmon.sim.jobmix import FAMILIES, Pool, mean_node_seconds
from trnmon.sim.rules import (
    ARRIVAL_EWMA_GAIN,
    ARRIVAL_EWMA_S,
    ARRIVAL_GAP_GAIN,
    ARRIVAL_MAX_BOOST,
    ARRIVAL_SAMPLES,
)

_MEAN_CACHE: dict[tuple[Pool, str], float] = {}
_LAST: dict[int, tuple[WorkloadConfig, str]] = {}  # id -> (the config, its JSON): per tick


def pool_mean_node_seconds(wl: WorkloadConfig, pool: Pool) -> float:
    """`mean_node_seconds` for the pool, computed once per (pool shape, workload)."""
    seen = _LAST.get(id(wl))
    if seen is None or seen[0] is not wl:  # the config object keeps its id while alive
        _LAST.clear()
        seen = _LAST[id(wl)] = (wl, wl.model_dump_json())
    key = (pool, seen[1])
    if key not in _MEAN_CACHE:
        _MEAN_CACHE[key] = mean_node_seconds(wl, pool, ARRIVAL_SAMPLES)
    return _MEAN_CACHE[key]


@dataclass(frozen=True)
class Demand:
    """What a cell's arrival rates need from its counts, computed once per scheduler
    event (counts change only then) rather than every tick: per family (FAMILIES order),
    the feed-forward rate (0 where the family is absent or has no healthy node), the gap
    to target, and the allocated share the average moves towards."""

    feed_forward: npt.NDArray[np.float64]
    gap: npt.NDArray[np.float64]
    share: npt.NDArray[np.float64]


def demand(wl: WorkloadConfig, pools: list[Pool], healthy: npt.NDArray[np.int64],
           allocated: npt.NDArray[np.int64], queued: npt.NDArray[np.int64]) -> Demand:
    n = len(FAMILIES)
    ff, gap = np.zeros(n), np.zeros(n)
    target = wl.target_allocation
    for f, pool in enumerate(pools):
        h = int(healthy[f])
        if pool.nodes == 0 or h == 0:
            continue
        ff[f] = target * h / pool_mean_node_seconds(wl, pool)
        gap[f] = (target * h - int(allocated[f]) - int(queued[f])) / h
    share = np.divide(allocated, healthy, out=np.zeros(n), where=healthy > 0)
    return Demand(ff, gap, share)


def target_rates(wl: WorkloadConfig, feed_forward: npt.NDArray[np.float64],
                 gap: npt.NDArray[np.float64],
                 avg: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Jobs per second for each (cell, family) (FAMILIES order); 0 where absent. All
    cells at once: per cell, a dozen numpy calls cost more than the arithmetic."""
    boost = 1.0 + ARRIVAL_GAP_GAIN * gap + ARRIVAL_EWMA_GAIN * (wl.target_allocation - avg)
    # minimum(maximum()) is np.clip's arithmetic at half its call overhead
    rates: npt.NDArray[np.float64] = feed_forward * np.minimum(np.maximum(boost, 0.0),
                                                               ARRIVAL_MAX_BOOST)
    return rates


def fixed_rates(wl: WorkloadConfig, pools: list[Pool], n_chips: int) -> list[float]:
    """The fixed-rate mode: arrivals_per_hour per 1,000 chips, split by family nodes."""
    per_s = (wl.arrivals_per_hour or 0.0) * n_chips / 1000.0 / 3600.0
    total = sum(p.nodes for p in pools)
    return [per_s * p.nodes / total if total else 0.0 for p in pools]


def update_average(avg: npt.NDArray[np.float64], share: npt.NDArray[np.float64],
                   dt: float) -> None:
    """Move each family's allocated-share average one tick towards the current share."""
    avg += _ewma_weight(dt) * (share - avg)


@functools.lru_cache(maxsize=8)
def _ewma_weight(dt: float) -> float:
    return 1.0 - math.exp(-dt / ARRIVAL_EWMA_S)
