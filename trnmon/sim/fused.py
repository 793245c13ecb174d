"""The per-chip and per-job ticks fused into one pass each with numba, when installed.

numpy needs ~40 passes over the chip arrays per tick; this loop reads and writes each
chip's state once, which is what brings the tick near the memory-bandwidth floor. It is
the same arithmetic as `DeviceKernel._chips` and `JobTable.advance`, with the rules of
`trnmon/sim/rules.py`: the formulas are the functions of `trnmon/sim/formulas.py`,
compiled here with the kernel's own numba flags and called in the loops; the tests run
both against the reference model (`trnmon/sim/reference.py`). The kernels take the typed
bundles of `trnmon/sim/structs.py`. Without numba the numpy path is used unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from trnmon.sim import formulas
from trnmon.sim.goodput import CKPT as GP_CKPT
from trnmon.sim.goodput import LOAD as GP_LOAD
from trnmon.sim.goodput import LOST as GP_LOST
from trnmon.sim.goodput import P as GP_P
from trnmon.sim.rules import (
    CHECKPOINT_HBM_BW,
    DEGRADED,
    EFA_BYTES_PER_REQUEST,
    HEALTHY,
    HUNG,
    HUNG_ACTIVITY,
    J_CHECKPOINTING,
    J_FREE,
    J_LOADING,
    J_RUNNING,
    J_STALLED,
    K_FINETUNE,
    K_INFERENCE,
    K_PRETRAIN,
    LINK_DOWN,
    LOADING_HBM_BW,
    LOST,
    PHASE_BUSY,
    PORT_INTRA,
    PORT_NONE,
    SERVE_MIN_BUSY,
    THROTTLE_CLOCK,
)
from trnmon.sim.state import EXEC_COMPLETED
from trnmon.sim.structs import (
    RATE_BUSY,
    RATE_EXEC,
    RATE_FLOPS,
    RATE_HBM_BW,
    RATE_INTRA,
    RATE_LATENCY,
    RATE_RING,
    ChipConstants,
    ChipInputs,
    DeviceArrays,
    JobCosts,
    JobInputs,
    JobProgress,
    JobRates,
)

ChipsKernel = Callable[[ChipInputs, JobRates, ChipConstants, DeviceArrays], None]
JobsKernel = Callable[[JobInputs, JobCosts, JobProgress], None]


def _scalar(f: Callable[..., Any]) -> Callable[..., Any]:
    """`f` with `minimum` / `maximum` bound to the builtins, for numba (see formulas.py)."""
    names = {**f.__globals__, "minimum": min, "maximum": max}
    return types.FunctionType(f.__code__, names, f.__name__, f.__defaults__, f.__closure__)


# The shared formulas as numba sees them: module globals the kernels call, bound by
# `_bind_formulas` before the first compile and inlined as numba IR (inline="always"), so
# the loops compile to the instructions the hand-written expressions gave (same flags, same
# bits, no call per element). Globals, not closure variables: numba's cache key pickles a
# closure's variables, and a fresh dispatcher pickles differently in every process. The
# kernels instead close over `_FORMULAS_STAMP`, a hash of formulas.py, so editing a formula
# invalidates their cache (numba only watches the kernel's own file).
_FORMULAS_STAMP = int(hashlib.sha256(inspect.getsource(formulas).encode()).hexdigest()[:15], 16)
chip_busy: Any = None
flops_per_util: Any = None
hbm_bw_util: Any = None
activity: Any = None
steady_temp: Any = None
temp_step: Any = None
throttling: Any = None
counter_step: Any = None
training_step: Any = None
training_busy: Any = None
serving_link_step: Any = None
serving_hbm_bw: Any = None
decode_step: Any = None


def _bind_formulas(njit: Callable[..., Any], fs: tuple[Callable[..., Any], ...]) -> None:
    globals().update({f.__name__: njit(inline="always")(_scalar(f)) for f in fs})


def _numba_enabled() -> bool:
    return os.environ.get("TRNMON_NUMBA", "1") != "0"


@functools.cache
def fused_kernel() -> ChipsKernel | None:
    """The compiled chip kernel, or None without numba (or with TRNMON_NUMBA=0). Built on
    first use: importing numba costs ~0.7 s, which small fleets should not pay."""
    if not _numba_enabled():
        return None
    try:
        from numba import njit
    except ImportError:
        return None
    _bind_formulas(njit, formulas.CHIP_FORMULAS)
    stamp = _FORMULAS_STAMP

    # numba types a NamedTuple argument in Python on every call (~2 us each) but a plain
    # tuple in C: the compiled entry takes plain tuples and rebuilds the named ones inside,
    # where that costs nothing.
    @njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
    def chips_kernel(inp_t: Any, rates_t: Any, k_t: Any,
                     dev_t: Any) -> None:  # pragma: no cover - compiled
        if stamp < 0:  # never: makes the formulas' source part of numba's cache key
            return
        inp, rates = ChipInputs(*inp_t), JobRates(*rates_t)
        k, dev = ChipConstants(*k_t), DeviceArrays(*dev_t)
        dt, j, ambient = inp.dt, inp.chip_job, inp.ambient_c
        table, hbm_table, mix_t, kind = rates.table, rates.hbm_table, rates.mix_t, rates.kind
        health, clock, throttled = dev.health, dev.clock_scale, dev.throttled
        core_util, core_engine, core_flops = dev.core_util, dev.core_engine, dev.core_flops
        hbm_used, bw_util, power_w = dev.hbm_used, dev.hbm_bw_util, dev.power_w
        energy_j, temp_c, link_state = dev.energy_j, dev.temp_c, dev.link_state
        cores, hbm_cap, throttle_c = k.cores, k.hbm_cap, k.throttle_c
        link_tx = dev.link_tx_bytes
        n_chips, n_cores = core_util.shape
        n_ports = link_tx.shape[1]
        for c in range(n_chips):
            s = j[c]
            h = health[c]
            working = h in (HEALTHY, DEGRADED)
            hung = h == HUNG
            up = h != LOST
            wf = 1.0 if working else 0.0
            clk = clock[c]
            busy = chip_busy(table[s, RATE_BUSY], clk, wf)
            if hung:
                busy = 1.0
            dev.chip_busy[c] = busy
            kd = kind[s]
            per_util = (flops_per_util(table[s, RATE_FLOPS], wf, busy, cores[c]) if busy > 0
                        else 0.0)
            m0, m1, m2, m3 = mix_t[0, kd], mix_t[1, kd], mix_t[2, kd], mix_t[3, kd]
            util_row = core_util[c]
            flops_row = core_flops[c]
            eng_row = core_engine[c]
            w_row = k.core_weight[c]
            b32 = np.float32(busy)  # float32 in the core loop: no conversions, SIMD-friendly
            pu32 = np.float32(per_util)
            for p in range(n_cores):
                u = b32 * w_row[p]
                util_row[p] = u
                flops_row[p] = u * pu32
                eng_row[p, 0] = u * m0
                eng_row[p, 1] = u * m1
                eng_row[p, 2] = u * m2
                eng_row[p, 3] = u * m3
            # HBM
            resident = working or hung
            total = 0.0
            for i in range(hbm_used.shape[1]):
                v = hbm_table[s, i] if resident else 0.0
                hbm_used[c, i] = v
                total += v
            if total > hbm_cap[c]:
                hbm_used[c, 0] = max(hbm_used[c, 0] - (total - hbm_cap[c]), 0.0)
            bw = hbm_bw_util(table[s, RATE_HBM_BW], wf, clk)
            bw_util[c] = bw
            # power and energy
            act = HUNG_ACTIVITY if hung else activity(busy, bw_util[c])
            # formulas.power, in float64 as ((span x act) x clk) x clk: see rules.py
            pw = (k.idle_w[c] + k.span_w[c] * act * clk * clk) if up else 0.0
            power_w[c] = pw
            energy_j[c] += power_w[c] * dt
            # thermal
            temp_c[c] = temp_step(temp_c[c], steady_temp(ambient[c], k.r_th[c], power_w[c]),
                                  k.alpha[c])
            th = throttling(temp_c[c], throttled[c], throttle_c[c]) and up
            throttled[c] = th
            clock[c] = THROTTLE_CLOCK if th else 1.0
            if h <= DEGRADED:
                health[c] = DEGRADED if (th or k.link_bad[c]) else HEALTHY
            # executions
            dev.exec_status[c, EXEC_COMPLETED] += counter_step(table[s, RATE_EXEC], wf, dt)
            dev.latency_p50_s[c] = table[s, RATE_LATENCY] * wf
            # links: inside the node, or the UltraServer ring
            for p in range(n_ports):
                pk = k.port_kind[c, p]
                if pk == PORT_NONE or link_state[c, p] == LINK_DOWN:
                    continue
                rate = table[s, RATE_INTRA] if pk == PORT_INTRA else table[s, RATE_RING]
                link_tx[c, p] += counter_step(rate * k.port_share[c, p], wf, dt)

    def run(inp: ChipInputs, rates: JobRates, k: ChipConstants, dev: DeviceArrays) -> None:
        chips_kernel(tuple(inp), tuple(rates), tuple(k), tuple(dev))

    return run


@functools.cache
def fused_jobs() -> JobsKernel | None:
    """`JobTable.advance` as one loop over job slots (same arithmetic, tested the same)."""
    if not _numba_enabled():
        return None
    try:
        from numba import njit
    except ImportError:
        return None
    _bind_formulas(njit, formulas.JOB_FORMULAS)
    stamp = _FORMULAS_STAMP

    @njit(cache=True, nogil=True, error_model="numpy")
    def jobs_kernel(inp_t: Any, c_t: Any, out_t: Any) -> None:  # pragma: no cover - compiled
        if stamp < 0:  # never: makes the formulas' source part of numba's cache key
            return
        inp, c, out = JobInputs(*inp_t), JobCosts(*c_t), JobProgress(*out_t)
        dt, load, jitter, idle = inp.dt, inp.load, inp.jitter, inp.idle_slot
        job_state, timer, kind = out.state, out.timer, c.kind
        clock, link_factor = c.clock, c.link_factor
        bubble, sv_kv, sv_out = c.bubble, c.sv_kv, c.sv_out
        peak_flops, step_s, flops_out = c.peak_flops, out.step_s, out.flops
        exec_per_step, steps, since_checkpoint = c.exec_per_step, out.steps, out.since_checkpoint
        for i in range(job_state.shape[0]):
            s = job_state[i]
            live = s != J_FREE and i != idle
            if s in (J_LOADING, J_CHECKPOINTING):
                timer[i] -= dt
                if timer[i] <= 0:
                    s = J_RUNNING
                    job_state[i] = s
            elif s == J_STALLED:
                timer[i] += dt
            running = s == J_RUNNING
            training = kind[i] == K_PRETRAIN or kind[i] == K_FINETUNE
            clk = clock[i]
            # training step
            step = training_step(c.compute_s[i], c.comm_s[i], clk, link_factor[i], bubble[i],
                                 jitter[i])
            comp_frac = c.compute_s[i] / clk / step if step > 0 else 0.0
            t_busy = training_busy(comp_frac, bubble[i])
            # serving step
            rps = c.sv_peak_rps[i] * (load if kind[i] == K_INFERENCE else 1.0)
            conc, t_step, s_busy, served = decode_step(
                rps, c.sv_w[i], sv_kv[i], c.sv_cap[i], c.sv_bw[i] * clk, sv_out[i],
                c.sv_prefill[i], c.sv_flops_tok_chip[i], peak_flops[i] * clk)
            t_step = serving_link_step(t_step, jitter[i], link_factor[i])

            is_train = training and live
            is_serve = (not training) and live
            stp = step if is_train else (t_step if is_serve else 0.0)
            step_s[i] = stp
            inv = 1.0 / stp if stp > 0 else 0.0
            busy = t_busy if is_train else s_busy
            if is_serve:
                busy = max(busy, SERVE_MIN_BUSY)
            tok = c.tokens_per_step[i] * inv if is_train else served * sv_out[i]
            fl = c.flops_per_step[i] * inv if is_train else tok * c.sv_flops_tok[i]
            loading = s == J_LOADING
            ckpt = s == J_CHECKPOINTING
            phase = busy if running else (PHASE_BUSY if (loading or ckpt) else 0.0)
            out.busy[i] = phase if live else 0.0
            prog = running and live
            out.progressing[i] = prog
            out.tokens_per_s[i] = tok if prog else 0.0
            flops_out[i] = fl / max(c.chips[i], 1.0) if prog else 0.0
            out.mfu[i] = flops_out[i] / peak_flops[i] if peak_flops[i] > 0 else 0.0
            out.tokens_total[i] += out.tokens_per_s[i] * dt
            bw = c.hbm_bw_train[i] if is_train else serving_hbm_bw(s_busy, clk)
            out.hbm_bw[i] = bw if prog else (LOADING_HBM_BW if loading else 0.0)
            if ckpt and live:
                out.hbm_bw[i] = CHECKPOINT_HBM_BW
            out.kv_bytes[i] = conc * sv_kv[i] if is_serve else 0.0
            if prog:
                out.exec_rate[i] = exec_per_step[i] * inv if is_train else (
                    inv if conc > 0 else 0.0)
                out.latency[i] = stp / max(exec_per_step[i], 1.0) if is_train else stp
            else:
                out.exec_rate[i] = 0.0
                out.latency[i] = 0.0
            pt = prog and is_train
            pl = prog and (is_train or conc > 0)
            out.intra_rate[i] = c.intra_per_step[i] * inv if pl else 0.0
            out.ring_rate[i] = c.ring_per_step[i] * inv if pl else 0.0
            out.efa_rate[i] = c.efa_per_step[i] * inv if pt else (
                served * EFA_BYTES_PER_REQUEST if prog else 0.0)
            if pt:
                steps[i] += dt * inv
                since_checkpoint[i] += dt
            if prog:
                out.elapsed[i] += dt
            if pt and since_checkpoint[i] >= c.checkpoint_every[i]:
                out.checkpoint_step[i] = steps[i]
                since_checkpoint[i] = 0.0
                job_state[i] = J_CHECKPOINTING
                timer[i] = c.checkpoint_s[i]

    def run(inp: JobInputs, costs: JobCosts, progress: JobProgress) -> None:
        jobs_kernel(tuple(inp), tuple(costs), tuple(progress))

    return run


GoodputKernel = Callable[..., int]


@functools.cache
def fused_goodput() -> GoodputKernel | None:
    """`JobTable.accrue_goodput` as one loop over job slots: the same sums in the same
    order (each state's chip-seconds summed per (cell, training/serving) from zero in slot
    order, as `np.bincount` does, then added to the totals), so results are bit-identical.
    On a small fleet the numpy version's dozen array calls are a tenth of a soak tick."""
    if not _numba_enabled():
        return None
    try:
        from numba import njit
    except ImportError:
        return None

    @njit(cache=True, nogil=True)
    def goodput_kernel(dt: float, state: Any, progressing: Any, kind: Any, chips: Any,
                       slot_cell: Any, cols: Any, part: Any,
                       totals: Any) -> int:  # pragma: no cover - compiled
        part[...] = 0.0
        used = np.zeros(4, dtype=np.bool_)
        loading = 0
        for i in range(state.shape[0]):
            s = state[i]
            if progressing[i]:
                cat = GP_P
            elif s == J_CHECKPOINTING:
                cat = GP_CKPT
            elif s == J_LOADING:
                cat = GP_LOAD
                loading += 1
            elif s == J_STALLED:
                cat = GP_LOST
            else:
                continue
            cols[cat][i] += dt
            row = 0 if (kind[i] == K_PRETRAIN or kind[i] == K_FINETUNE) else 1
            part[slot_cell[i], row, cat] += chips[i] * dt
            used[cat] = True
        for cat in range(4):
            if used[cat]:
                for c in range(totals.shape[0]):
                    for r in range(2):
                        totals[c, r, cat] += part[c, r, cat]
        return loading  # slots loading: the caller prices restarts' reloads

    return goodput_kernel


EccKernel = Callable[..., None]


@functools.cache
def fused_ecc() -> EccKernel | None:
    """Correctable-ECC positions of every cell in one call: event i lands at
    `searchsorted(cdf[lo[i]:hi[i]], u[i], side="right")` (clamped to the cell), exactly as
    the per-cell numpy search does, without a numpy call per cell per tick."""
    if not _numba_enabled():
        return None
    try:
        from numba import njit
    except ImportError:
        return None

    @njit(cache=True, nogil=True)
    def ecc_positions(cdf: Any, u: Any, lo: Any, hi: Any,
                      out: Any) -> None:  # pragma: no cover - compiled
        for i in range(u.shape[0]):
            a, b, x = lo[i], hi[i], u[i]
            left, right = a, b
            while left < right:  # bisect right: the first index whose value exceeds x
                mid = (left + right) // 2
                if x < cdf[mid]:
                    right = mid
                else:
                    left = mid + 1
            out[i] = min(left, b - 1)

    return ecc_positions
