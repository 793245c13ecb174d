"""The job mix: what an arriving job on one instance family of one scheduling cell is.

Many small jobs, few large ones (the shape of the Philly, Helios and Meta RSC job traces):
fine-tuning on 1-8 nodes, long-lived inference services on one node with diurnal traffic,
batch inference on 1-2 nodes, and pretraining gangs on whole UltraServers (1-16) where the
cell has them. Sizes and weights are in `trnmon/sim/rules.py`; kinds are weighted by the
configured `workload.mix`, restricted to what the family runs (Trn1: training; Inf2:
inference). Families of fewer than `SMALL_POOL_NODES` nodes in a cell run proportionally
shorter jobs. No job is larger than `max_job_share` of its family's nodes in its cell, nor
than the cell holds, so every job can start somewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trnmon.config.model import WorkloadConfig
from trnmon.hw.catalog import ULTRASERVER_NODES
from trnmon.sim.rules import (
    BATCH_NODES,
    BATCH_WEIGHTS,
    GANG_SHARE,
    GANG_ULTRASERVERS,
    GANG_WEIGHTS,
    MIN_JOB_HOURS,
    SMALL_POOL_NODES,
    TRAIN_NODES,
    TRAIN_WEIGHTS,
    JobKind,
)
from trnmon.sim.workloads import JobSpec

FAMILIES = ("trn2", "trn1", "inf2")
# Kinds each family runs: Trn1 trains, Inf2 serves, Trn2 does everything.
FAMILY_KINDS = {"trn2": tuple(JobKind), "trn1": (JobKind.PRETRAIN, JobKind.FINETUNE),
                "inf2": (JobKind.INFERENCE, JobKind.BATCH_INFERENCE)}


@dataclass(frozen=True, slots=True)
class Pool:
    """One family's nodes in one cell, as far as job sizes go."""

    family: str
    nodes: int  # nodes of the family in the cell
    ultraservers: int  # whole UltraServers in the cell (Trn2 only)

    def max_nodes(self, share: float) -> int:
        return max(1, min(self.nodes, int(share * self.nodes)))

    def max_ultraservers(self, share: float) -> int:
        return max(1, min(self.ultraservers, int(share * self.ultraservers)))


def _capped(rng: np.random.Generator, sizes: tuple[int, ...], weights: tuple[float, ...],
            cap: int) -> int:
    """A size from the table, renormalized over the sizes within `cap` (1 if none)."""
    allowed = [i for i, s in enumerate(sizes) if s <= cap]
    if not allowed:
        return 1
    w = np.array([weights[i] for i in allowed])
    return sizes[allowed[int(rng.choice(len(allowed), p=w / w.sum()))]]


def random_spec(wl: WorkloadConfig, rng: np.random.Generator, pool: Pool) -> JobSpec:
    """One arriving job for `pool`, drawn from `rng` in a fixed order."""
    mix = wl.mix
    kinds = FAMILY_KINDS[pool.family]
    weights = np.array([getattr(mix, k.label) for k in kinds], dtype=np.float64)
    if weights.sum() <= 0:
        weights = np.ones(len(kinds))
    kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    eff = float(rng.uniform(wl.mfu_min, wl.mfu_max))
    u = float(rng.random())  # gang or not, family-specific model choices
    gang = kind == JobKind.PRETRAIN and pool.ultraservers > 0 and u < GANG_SHARE
    # Gangs hold multi-day reservations; everything else that trains runs for hours.
    hours = (wl.pretrain_hours if gang else wl.service_hours if kind == JobKind.INFERENCE
             else wl.mean_job_hours)
    hours *= min(1.0, pool.nodes / SMALL_POOL_NODES)
    duration = (float(rng.exponential(hours)) + MIN_JOB_HOURS) * 3600.0
    common = {"efficiency": eff, "duration_s": duration, "instance_family": pool.family}
    cap = pool.max_nodes(wl.max_job_share)
    if gang:
        k = _capped(rng, GANG_ULTRASERVERS, GANG_WEIGHTS,
                    pool.max_ultraservers(wl.max_job_share))
        model = "llama3-405b" if k >= 4 else ("llama3-70b" if u < GANG_SHARE / 2
                                              else "mixtral-8x22b")
        return JobSpec(kind="pretrain", model=model, nodes=k * ULTRASERVER_NODES,
                       ultraserver=True, tp=16, pp=8 if k >= 4 else (4 if k >= 2 else 1),
                       global_batch=64 * k, **common)
    if kind.training:
        nodes = _capped(rng, TRAIN_NODES, TRAIN_WEIGHTS, cap)
        # Trn1's 32 GiB per chip cannot hold 70B training state; big Trn2 jobs train 70B.
        model = "llama3-70b" if (pool.family == "trn2" and (
            kind == JobKind.PRETRAIN or nodes >= 4)) else "llama3-8b"
        return JobSpec(kind=kind.label, model=model, nodes=nodes, tp=16, seq_len=4096,
                       global_batch=128, **common)
    nodes = 1 if kind == JobKind.INFERENCE else _capped(rng, BATCH_NODES, BATCH_WEIGHTS, cap)
    model = "llama3-8b" if (pool.family != "trn2" or u < 0.5) else "llama3-70b"
    return JobSpec(kind=kind.label, model=model, nodes=nodes, tp=16,
                   peak_rps=float(rng.uniform(4, 40)),
                   prompt_tokens=int(rng.choice([512, 1024, 2048])),
                   output_tokens=int(rng.choice([128, 256, 512])), **common)


def mean_node_seconds(wl: WorkloadConfig, pool: Pool, samples: int, seed: int = 0) -> float:
    """Mean nodes x duration of a job for `pool` (from a fixed-seed sample of the mix, so
    it includes every cap): the feed-forward arrival rate is target x nodes / this."""
    rng = np.random.default_rng([0x6A0B, seed])
    total = 0.0
    for _ in range(samples):
        spec = random_spec(wl, rng, pool)
        total += spec.nodes * spec.duration_s
    return total / samples
