"""The per-chip and per-job ticks fused into one pass each with numba, when installed.

numpy needs ~40 passes over the chip arrays per tick; this loop reads and writes each
chip's state once, which is what brings the tick near the memory-bandwidth floor. It is
the same arithmetic as `DeviceKernel._chips` and `JobTable.advance`, with the rules of
`trnmon/sim/rules.py`; the tests run both against the reference model
(`trnmon/sim/reference.py`). The kernels take the typed bundles of `trnmon/sim/structs.py`.
Without numba the numpy path is used unchanged.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from trnmon.sim.rules import (
    ACTIVITY_BUSY,
    ACTIVITY_HBM,
    CHECKPOINT_HBM_BW,
    COMM_BUSY,
    COMPUTE_EFFICIENCY,
    DECODE_BUSY_BASE,
    DECODE_BUSY_INTENSITY,
    DEGRADED,
    EFA_BYTES_PER_REQUEST,
    HBM_EFFICIENCY,
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
    SERVE_HBM_BW_MAX,
    SERVE_HBM_BW_PER_BUSY,
    SERVE_LINK_EXPONENT,
    SERVE_MIN_BUSY,
    THROTTLE_CLOCK,
    THROTTLE_HYSTERESIS_C,
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

    # numba types a NamedTuple argument in Python on every call (~2 us each) but a plain
    # tuple in C: the compiled entry takes plain tuples and rebuilds the named ones inside,
    # where that costs nothing.
    @njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
    def chips_kernel(inp_t: Any, rates_t: Any, k_t: Any,
                     dev_t: Any) -> None:  # pragma: no cover - compiled
        inp, rates = ChipInputs(*inp_t), JobRates(*rates_t)
        k, dev = ChipConstants(*k_t), DeviceArrays(*dev_t)
        dt, j, ambient = inp.dt, inp.chip_job, inp.ambient_c
        table, hbm_table, mix_t, kind = rates.table, rates.hbm_table, rates.mix_t, rates.kind
        health, clock, throttled = dev.health, dev.clock_scale, dev.throttled
        core_util, core_engine, core_flops = dev.core_util, dev.core_engine, dev.core_flops
        hbm_used, hbm_bw_util, power_w = dev.hbm_used, dev.hbm_bw_util, dev.power_w
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
            busy = min(table[s, RATE_BUSY] / clk, 1.0) * wf
            if hung:
                busy = 1.0
            dev.chip_busy[c] = busy
            kd = kind[s]
            per_util = table[s, RATE_FLOPS] * wf / (busy * cores[c]) if busy > 0 else 0.0
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
            bw = table[s, RATE_HBM_BW] * wf * clk
            hbm_bw_util[c] = bw
            # power and energy
            activity = HUNG_ACTIVITY if hung else (ACTIVITY_BUSY * busy
                                                   + ACTIVITY_HBM * hbm_bw_util[c])
            pw = (k.idle_w[c] + k.span_w[c] * activity * clk * clk) if up else 0.0
            power_w[c] = pw
            energy_j[c] += power_w[c] * dt
            # thermal
            t = temp_c[c]
            t += (ambient[c] + k.r_th[c] * power_w[c] - t) * k.alpha[c]
            temp_c[c] = t
            t = temp_c[c]
            th = (t > throttle_c[c]) or (throttled[c]
                                        and t > throttle_c[c] - THROTTLE_HYSTERESIS_C)
            th = th and up
            throttled[c] = th
            clock[c] = THROTTLE_CLOCK if th else 1.0
            if h <= DEGRADED:
                health[c] = DEGRADED if (th or k.link_bad[c]) else HEALTHY
            # executions
            dev.exec_status[c, EXEC_COMPLETED] += table[s, RATE_EXEC] * wf * dt
            dev.latency_p50_s[c] = table[s, RATE_LATENCY] * wf
            # links: inside the node, or the UltraServer ring
            for p in range(n_ports):
                pk = k.port_kind[c, p]
                if pk == PORT_NONE or link_state[c, p] == LINK_DOWN:
                    continue
                rate = table[s, RATE_INTRA] if pk == PORT_INTRA else table[s, RATE_RING]
                link_tx[c, p] += rate * k.port_share[c, p] * wf * dt

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

    @njit(cache=True, nogil=True, error_model="numpy")
    def jobs_kernel(inp_t: Any, c_t: Any, out_t: Any) -> None:  # pragma: no cover - compiled
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
            comp = c.compute_s[i] / clk
            step = (comp + c.comm_s[i] / link_factor[i]) * (1.0 + bubble[i]) * jitter[i]
            comp_frac = comp / step if step > 0 else 0.0
            t_busy = min(1.0, comp_frac * (1.0 + bubble[i]) ** -1
                         + COMM_BUSY * (1 - comp_frac))
            # serving step (workloads.serving_step)
            rps = c.sv_peak_rps[i] * (load if kind[i] == K_INFERENCE else 1.0)
            mem_bw = max(c.sv_bw[i] * clk * HBM_EFFICIENCY, 1.0)
            demand = rps * sv_out[i]
            denom = max(mem_bw - demand * sv_kv[i], 1e-9)
            conc = min(demand * c.sv_w[i] / denom, c.sv_cap[i])
            t_mem = (c.sv_w[i] + conc * sv_kv[i]) / mem_bw
            t_comp = conc * c.sv_flops_tok_chip[i] / max(peak_flops[i] * clk
                                                         * COMPUTE_EFFICIENCY, 1.0)
            t_step = max(t_mem, t_comp)
            served = min(rps, conc / max(t_step * sv_out[i], 1e-12))
            intensity = t_comp / t_step if t_step > 0 else 0.0
            s_busy = min((1.0 - np.exp(-conc))
                         * (DECODE_BUSY_BASE + DECODE_BUSY_INTENSITY * intensity)
                         + served * c.sv_prefill[i], 1.0)
            t_step = t_step * jitter[i] / link_factor[i] ** SERVE_LINK_EXPONENT

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
            bw = c.hbm_bw_train[i] if is_train else min(SERVE_HBM_BW_MAX,
                                                        s_busy * SERVE_HBM_BW_PER_BUSY * clk)
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
