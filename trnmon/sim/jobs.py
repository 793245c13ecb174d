"""The job table: one slot per possible job, columns as arrays, advanced for all jobs at once.

A slot's static columns are written when the job is placed (an event); the dynamic
columns are recomputed every tick by `JobTable.advance` without a Python loop over jobs.
The last slot is the idle pseudo-job: chips without a job point at it and read zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from trnmon.sim import formulas
from trnmon.sim.fused import fused_goodput, fused_jobs
from trnmon.sim.goodput import CKPT, LOAD, LOST, SERVING, TRAINING, Goodput, P
from trnmon.sim.jobmix import FAMILIES
from trnmon.sim.rules import (
    CHECKPOINT_HBM_BW,
    EFA_BYTES_PER_REQUEST,
    ENGINE_MIX,
    HANG_WATCHDOG_S,
    IDLE_KIND,
    J_CHECKPOINTING,
    J_FREE,
    J_LOADING,
    J_STALLED,
    K_FINETUNE,
    K_PRETRAIN,
    LOAD_S,
    LOADING_HBM_BW,
    PHASE_BUSY,
    SERVE_MIN_BUSY,
    JobKind,
    JobState,
)
from trnmon.sim.structs import JobCosts, JobInputs, JobProgress, gather
from trnmon.sim.taxonomy import CAUSE_NAMES
from trnmon.sim.workloads import JobSpec, ServingModel, TrainingCost

__all__ = ["ENGINE_MIX", "HANG_WATCHDOG_S", "LOAD_S", "JobRecord", "JobState", "JobTable"]

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]
_CAUSE_INDEX = {name: i for i, name in enumerate(CAUSE_NAMES)}
B = npt.NDArray[np.bool_]


@dataclass(eq=False)
class JobRecord:
    """The per-job facts that are not per-tick numbers."""

    job_id: int
    spec: JobSpec
    nodes: list[int]
    submitted_at: float
    started_at: float
    restarts: int = 0
    ultraserver_ring: bool = False
    chips: int = 0
    ttft_s: float = 0.0  # serving: time to first token at the deployment's static batch
    goodput: Goodput = field(default_factory=Goodput)  # earlier runs and queue waits
    restart_cause: str = ""  # the taxonomy cause of the crash this run restarts from


def _col(dtype: type[np.generic], width: int = 0, fill: float = 0.0) -> Any:
    """A job-table column: one value (or `width` values) per slot, the idle slot included."""
    return field(init=False, repr=False,
                 metadata={"column": True, "dtype": dtype, "width": width, "fill": fill})


@dataclass(eq=False)
class JobTable:
    """The job table: `capacity` slots plus the idle pseudo-job, one array per column.

    It owns the per-slot columns (declared below, allocated from the declarations: the
    table's schema) and the slot -> `JobRecord` map. Placement writes the static columns;
    the job tick (`advance`) rewrites the per-tick outputs.
    """

    capacity: int
    records: dict[int, JobRecord] = field(default_factory=dict)  # slot -> record
    backend: str = "numpy"  # "numba": the fused loop in trnmon/sim/fused.py
    # Bumped whenever a slot is taken or freed (`records` and the slots' owners change):
    # consumers that derive something from the allocation (the cost meter) recompute it
    # only when this moves.
    version: int = 0

    state: I8 = _col(np.int8)  # JobState
    kind: I8 = _col(np.int8)  # JobKind; IDLE_KIND for the idle slot
    timer: F64 = _col(np.float64)  # seconds left in LOADING / CHECKPOINTING; stall age
    elapsed: F64 = _col(np.float64)  # running seconds, for duration-bound jobs
    duration: F64 = _col(np.float64)
    # training (per job)
    compute_s: F64 = _col(np.float64)
    comm_s: F64 = _col(np.float64)
    bubble: F64 = _col(np.float64)
    flops_per_step: F64 = _col(np.float64)
    tokens_per_step: F64 = _col(np.float64)
    exec_per_step: F64 = _col(np.float64)
    checkpoint_s: F64 = _col(np.float64)
    checkpoint_every: F64 = _col(np.float64)
    since_checkpoint: F64 = _col(np.float64)
    steps: F64 = _col(np.float64)
    checkpoint_step: F64 = _col(np.float64)
    chips: F64 = _col(np.float64)
    intra_per_step: F64 = _col(np.float64)
    ring_per_step: F64 = _col(np.float64)
    efa_per_step: F64 = _col(np.float64)
    hbm_static: F64 = _col(np.float64, width=5)  # per chip, by HBM category
    hbm_bw_train: F64 = _col(np.float64)
    # serving (per job)
    sv_w: F64 = _col(np.float64)
    sv_kv: F64 = _col(np.float64)
    sv_cap: F64 = _col(np.float64)
    sv_bw: F64 = _col(np.float64)
    sv_out: F64 = _col(np.float64)
    sv_prefill: F64 = _col(np.float64)
    sv_peak_rps: F64 = _col(np.float64)
    sv_flops_tok: F64 = _col(np.float64)
    sv_flops_tok_chip: F64 = _col(np.float64)
    peak_flops: F64 = _col(np.float64)  # per chip
    # slowdowns, refreshed when a chip throttles or a link changes state
    clock: F64 = _col(np.float64, fill=1.0)
    link_factor: F64 = _col(np.float64, fill=1.0)
    # per-tick outputs (per chip unless noted)
    step_s: F64 = _col(np.float64)
    busy: F64 = _col(np.float64)
    flops: F64 = _col(np.float64)
    hbm_bw: F64 = _col(np.float64)
    exec_rate: F64 = _col(np.float64)
    latency: F64 = _col(np.float64)
    tokens_per_s: F64 = _col(np.float64)  # whole job
    mfu: F64 = _col(np.float64)
    kv_bytes: F64 = _col(np.float64)
    intra_rate: F64 = _col(np.float64)  # bytes/s per torus port
    ring_rate: F64 = _col(np.float64)
    efa_rate: F64 = _col(np.float64)  # bytes/s per node
    progressing: B = _col(np.bool_)
    tokens_total: F64 = _col(np.float64)  # counter, whole job
    # goodput seconds of the current run, by state (trnmon/sim/goodput.py)
    gp_productive: F64 = _col(np.float64)
    gp_checkpoint: F64 = _col(np.float64)
    gp_loading: F64 = _col(np.float64)
    gp_lost: F64 = _col(np.float64)

    # The numba kernel's argument bundles over the columns, built on first use.
    _bundles: tuple[JobCosts, JobProgress] | None = field(default=None, init=False,
                                                          repr=False)
    _gp_part: F64 | None = field(default=None, init=False, repr=False)  # goodput scratch

    def __post_init__(self) -> None:
        n = self.capacity + 1  # + idle slot
        for f in fields(self):
            if f.metadata.get("column"):
                shape = (n, f.metadata["width"]) if f.metadata["width"] else (n,)
                setattr(self, f.name, np.full(shape, f.metadata["fill"],
                                              dtype=f.metadata["dtype"]))
        self.kind[self.capacity] = IDLE_KIND  # the idle slot: no kind, no engine mix

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        """The table's columns, in declaration order (its schema)."""
        return tuple(f.name for f in fields(cls) if f.metadata.get("column"))

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """Every column by name (the arrays themselves, not copies)."""
        return {name: getattr(self, name) for name in self.column_names()}

    @property
    def idle_slot(self) -> int:
        return self.capacity

    def free_slot(self, lo: int = 0, hi: int | None = None) -> int:
        """The first free slot in [lo, hi) (a scheduling cell's slots)."""
        hi = self.capacity if hi is None else hi
        free = np.flatnonzero(self.state[lo:hi] == JobState.FREE)
        if free.size == 0:
            raise RuntimeError("job table full")
        return int(free[0]) + lo

    # --- events ------------------------------------------------------------------------
    def start_training(self, slot: int, rec: JobRecord, cost: TrainingCost,
                       checkpoint_every: float) -> None:
        self._start(slot, rec)
        self.compute_s[slot], self.comm_s[slot] = cost.compute_s, cost.comm_s
        self.bubble[slot] = cost.bubble
        self.flops_per_step[slot] = cost.flops_per_step
        self.tokens_per_step[slot] = cost.tokens_per_step
        self.exec_per_step[slot] = cost.executions_per_step
        self.checkpoint_s[slot] = cost.checkpoint_s
        self.checkpoint_every[slot] = checkpoint_every
        self.hbm_static[slot] = cost.hbm
        self.hbm_bw_train[slot] = cost.hbm_bw_util
        self.intra_per_step[slot] = cost.intra_port_bytes_per_step
        self.ring_per_step[slot] = cost.ring_port_bytes_per_step
        self.efa_per_step[slot] = cost.efa_bytes_per_step
        self.duration[slot] = rec.spec.duration_s

    def start_serving(self, slot: int, rec: JobRecord, sm: ServingModel,
                      hbm_fixed: tuple[float, float, float, float]) -> None:
        self._start(slot, rec)
        rec.ttft_s = sm.ttft_s
        self.sv_w[slot], self.sv_kv[slot], self.sv_cap[slot] = (
            sm.weight_bytes, sm.kv_bytes_per_seq, sm.kv_capacity_seqs)
        # Decode's TP all-reduces load the links every step, as training's collectives do.
        self.intra_per_step[slot] = sm.intra_port_bytes_per_step
        self.ring_per_step[slot] = sm.ring_port_bytes_per_step
        self.sv_bw[slot], self.sv_out[slot] = sm.hbm_bw, sm.output_tokens
        self.sv_prefill[slot], self.sv_peak_rps[slot] = sm.prefill_s_per_req, sm.peak_rps
        self.sv_flops_tok[slot] = sm.flops_per_token
        self.sv_flops_tok_chip[slot] = sm.flops_per_token_chip
        self.peak_flops[slot] = sm.peak_flops
        # Weights are constants, the KV cache (allocated at load) tensors: fixed for life.
        self.hbm_static[slot] = sm.hbm
        del hbm_fixed
        self.duration[slot] = rec.spec.duration_s

    def _start(self, slot: int, rec: JobRecord) -> None:
        self.version += 1
        self.records[slot] = rec
        self.state[slot] = JobState.LOADING
        self.kind[slot] = rec.spec.job_kind
        self.timer[slot] = LOAD_S
        self.chips[slot] = rec.chips
        self.since_checkpoint[slot] = 0.0
        self.clock[slot] = self.link_factor[slot] = 1.0
        self.tokens_total[slot] = 0.0
        for col in (self.gp_productive, self.gp_checkpoint, self.gp_loading, self.gp_lost):
            col[slot] = 0.0

    def release(self, slot: int) -> JobRecord:
        self.version += 1
        rec = self.records.pop(slot)
        self.state[slot] = JobState.FREE
        for arr in (self.busy, self.flops, self.hbm_bw, self.exec_rate, self.latency,
                    self.tokens_per_s, self.mfu, self.kv_bytes, self.intra_rate, self.ring_rate,
                    self.efa_rate, self.step_s):
            arr[slot] = 0.0
        self.hbm_static[slot] = 0.0
        self.progressing[slot] = False
        self.clock[slot] = self.link_factor[slot] = 1.0  # as a full refresh leaves free slots
        return rec

    # --- goodput -----------------------------------------------------------------------
    def accrue_goodput(self, totals: F64, slot_cell: npt.NDArray[np.int32],
                       dt: float, lost: F64 | None = None) -> None:
        """Add the tick just advanced to every live job's goodput columns and to the fleet
        totals ((cells, training/serving, GOODPUT_STATES) chip-seconds; slot i belongs to
        cell `slot_cell[i]`), as the job tick saw it: productive if the job progressed,
        else checkpoint, loading or (stalled) lost.

        The reload of a job restarted after a crash also goes to `lost` ((cells, families,
        causes) chip-seconds) under the crash's cause: the restart's price."""
        n = self.capacity
        kernel = fused_goodput() if self.backend == "numba" else None
        if kernel is not None:
            if self._gp_part is None or self._gp_part.shape != (*totals.shape[:2], 4):
                self._gp_part = np.zeros((*totals.shape[:2], 4))
            loading = kernel(dt, self.state[:n], self.progressing[:n], self.kind[:n],
                             self.chips[:n], slot_cell[:n],
                             (self.gp_productive, self.gp_checkpoint, self.gp_loading,
                              self.gp_lost), self._gp_part, totals)
            if loading and lost is not None:
                mask = ~self.progressing[:n] & (self.state[:n] == J_LOADING)
                self._restart_reload(mask, lost, slot_cell, dt)
            return
        state = self.state[:n]
        chips = self.chips[:n]
        kind = self.kind[:n]
        progressing = self.progressing[:n]
        training = (kind == K_PRETRAIN) | (kind == K_FINETUNE)
        # Plain-int codes: an IntEnum member lookup per comparison costs more than the
        # comparison on a small fleet.
        for mask, col, cat in ((progressing, self.gp_productive, P),
                               (~progressing & (state == J_CHECKPOINTING),
                                self.gp_checkpoint, CKPT),
                               (~progressing & (state == J_LOADING), self.gp_loading, LOAD),
                               (state == J_STALLED, self.gp_lost, LOST)):
            if not mask.any():
                continue
            col[:n][mask] += dt
            if cat == LOAD and lost is not None:
                self._restart_reload(mask, lost, slot_cell, dt)
            row = slot_cell[:n][mask] * 2 + np.where(training[mask], TRAINING, SERVING)
            totals[:, :, cat] += np.bincount(row, weights=chips[mask] * dt,
                                             minlength=totals.shape[0] * 2).reshape(-1, 2)

    def _restart_reload(self, loading: B, lost: F64, slot_cell: npt.NDArray[np.int32],
                        dt: float) -> None:
        # A handful of slots load at a time (placements and restarts), so a loop is cheap.
        for slot in np.flatnonzero(loading).tolist():
            rec = self.records.get(slot)
            if rec is None or not rec.restart_cause:
                continue
            cause = _CAUSE_INDEX.get(rec.restart_cause)
            if cause is not None:
                fam = FAMILIES.index(rec.spec.instance_family)
                lost[int(slot_cell[slot]), fam, cause] += float(self.chips[slot]) * dt

    def run_goodput(self, slot: int) -> Goodput:
        """The current run's seconds of the job in `slot`."""
        return Goodput(productive=float(self.gp_productive[slot]),
                       checkpoint=float(self.gp_checkpoint[slot]),
                       loading=float(self.gp_loading[slot]), lost=float(self.gp_lost[slot]))

    def job_goodput(self, slot: int) -> Goodput:
        """The job's whole goodput: earlier runs and waits plus the current run."""
        return self.records[slot].goodput.plus(self.run_goodput(slot))

    def lose_since_checkpoint(self, slot: int, totals: F64, lost: F64 | None = None,
                              cause: str = "") -> None:
        """A crash: the productive time since the last checkpoint becomes lost time.

        With `lost` ((families, causes) chip-seconds of the job's cell), the run's whole
        lost time (that work, and any time stalled behind a hang) is added under `cause`,
        the crash's taxonomy cause."""
        moved = min(float(self.since_checkpoint[slot]), float(self.gp_productive[slot]))
        if moved > 0:
            self.gp_productive[slot] -= moved
            self.gp_lost[slot] += moved
            row = TRAINING if JobKind(int(self.kind[slot])).training else SERVING
            held = moved * float(self.chips[slot])
            totals[row, P] -= held
            totals[row, LOST] += held
        rec = self.records.get(slot)
        index = _CAUSE_INDEX.get(cause)
        if lost is not None and rec is not None and index is not None:
            lost[FAMILIES.index(rec.spec.instance_family), index] += (
                float(self.gp_lost[slot]) * float(self.chips[slot]))

    # --- per tick ----------------------------------------------------------------------
    def advance(self, dt: float, load: float, jitter: F64) -> None:
        """Advance every job by dt: state timers, step times, progress, per-chip rates.

        `load` is the diurnal request-rate factor; `jitter` one multiplicative step-time
        noise per slot (drawn by the engine so the trajectory is seeded).
        """
        fused = fused_jobs() if self.backend == "numba" else None
        if fused is not None:
            if self._bundles is None:  # columns are allocated once, never rebound
                self._bundles = (gather(JobCosts, self), gather(JobProgress, self))
            fused(JobInputs(dt, load, jitter, self.idle_slot), *self._bundles)
            return
        job_state = self.state
        training = (self.kind == JobKind.PRETRAIN) | (self.kind == JobKind.FINETUNE)
        live = job_state != JobState.FREE
        live[self.idle_slot] = False
        running = job_state == JobState.RUNNING

        # State timers: LOADING and CHECKPOINTING count down, STALLED counts up.
        counting = (job_state == JobState.LOADING) | (job_state == JobState.CHECKPOINTING)
        self.timer[counting] -= dt
        self.timer[job_state == JobState.STALLED] += dt
        done = counting & (self.timer <= 0)
        job_state[done] = JobState.RUNNING
        running |= done

        # Training: step time from compute at the slowest chip's clock plus exposed
        # communication at the worst link, times the pipeline bubble.
        step = formulas.training_step(self.compute_s, self.comm_s, self.clock,
                                      self.link_factor, self.bubble, jitter)
        comp_frac = np.divide(self.compute_s / self.clock, step, out=np.zeros_like(step),
                              where=step > 0)
        t_busy: F64 = formulas.training_busy(comp_frac, self.bubble)

        # Serving: request rate follows the day; batch inference runs flat out.
        rps = self.sv_peak_rps * np.where(self.kind == JobKind.INFERENCE, load, 1.0)
        conc, t_step, s_busy, served = formulas.decode_step(
            rps, self.sv_w, self.sv_kv, self.sv_cap, self.sv_bw * self.clock, self.sv_out,
            self.sv_prefill, self.sv_flops_tok_chip, self.peak_flops * self.clock)
        t_step = formulas.serving_link_step(t_step, jitter, self.link_factor)

        is_train = training & live
        is_serve = ~training & live
        self.step_s[:] = np.where(is_train, step, np.where(is_serve, t_step, 0.0))
        inv_step = np.divide(1.0, self.step_s, out=np.zeros_like(step), where=self.step_s > 0)
        busy = np.where(is_train, t_busy, s_busy)
        busy = np.where(is_serve, np.maximum(busy, SERVE_MIN_BUSY), busy)  # runtime keeps polling
        tokens_s = np.where(is_train, self.tokens_per_step * inv_step, served * self.sv_out)
        flops_job = np.where(is_train, self.flops_per_step * inv_step,
                             tokens_s * self.sv_flops_tok)
        chips = np.maximum(self.chips, 1.0)

        # Phase masks: loading reads weights (HBM busy, cores light); checkpoints write out.
        loading = job_state == JobState.LOADING
        ckpt = job_state == JobState.CHECKPOINTING
        phase_busy = np.where(running, busy, np.where(loading | ckpt, PHASE_BUSY, 0.0))
        self.busy[:] = np.where(live, phase_busy, 0.0)
        self.progressing[:] = running & live
        self.tokens_per_s[:] = np.where(self.progressing, tokens_s, 0.0)
        self.flops[:] = np.where(self.progressing, flops_job / chips, 0.0)
        self.mfu[:] = np.divide(self.flops, self.peak_flops, out=np.zeros_like(step),
                                where=self.peak_flops > 0)
        self.tokens_total += self.tokens_per_s * dt
        hbm_bw = np.where(is_train, self.hbm_bw_train, formulas.serving_hbm_bw(s_busy, self.clock))
        self.hbm_bw[:] = np.where(self.progressing, hbm_bw, np.where(loading, LOADING_HBM_BW, 0.0))
        self.hbm_bw[ckpt & live] = CHECKPOINT_HBM_BW
        self.kv_bytes[:] = np.where(is_serve, conc * self.sv_kv, 0.0)
        self.exec_rate[:] = np.where(self.progressing, np.where(
            is_train, self.exec_per_step * inv_step, np.where(conc > 0, inv_step, 0.0)), 0.0)
        self.latency[:] = np.where(is_train, self.step_s / np.maximum(self.exec_per_step, 1),
                                   self.step_s)
        self.latency[~self.progressing] = 0.0
        links = self.progressing & (is_train | (conc > 0))  # decode steps only with work
        self.intra_rate[:] = np.where(links, self.intra_per_step * inv_step, 0.0)
        self.ring_rate[:] = np.where(links, self.ring_per_step * inv_step, 0.0)
        self.efa_rate[:] = np.where(self.progressing & is_train, self.efa_per_step * inv_step,
                                    np.where(self.progressing, served * EFA_BYTES_PER_REQUEST, 0.0))

        # Progress and checkpoints (training); elapsed time for everyone that runs.
        self.steps += np.where(self.progressing & is_train, dt * inv_step, 0.0)
        self.elapsed += np.where(self.progressing, dt, 0.0)
        self.since_checkpoint += np.where(self.progressing & is_train, dt, 0.0)
        start_ckpt = self.progressing & is_train & (self.since_checkpoint >= self.checkpoint_every)
        self.checkpoint_step[start_ckpt] = self.steps[start_ckpt]
        self.since_checkpoint[start_ckpt] = 0.0
        job_state[start_ckpt] = JobState.CHECKPOINTING
        self.timer[start_ckpt] = self.checkpoint_s[start_ckpt]

    def finished_slots(self) -> npt.NDArray[np.intp]:
        live = self.state[: self.capacity] != J_FREE  # plain-int codes: cheaper than enums
        due = self.elapsed[: self.capacity] >= self.duration[: self.capacity]
        return np.flatnonzero(live & due)

    def stalled_out(self) -> npt.NDArray[np.intp]:
        job_state = self.state[: self.capacity]
        timed_out = self.timer[: self.capacity] >= HANG_WATCHDOG_S
        return np.flatnonzero((job_state == J_STALLED) & timed_out)
