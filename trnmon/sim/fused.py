"""The per-chip tick fused into one pass with numba, when numba is installed.

numpy needs ~40 passes over the chip arrays per tick; this loop reads and writes each
chip's state once, which is what brings the tick near the memory-bandwidth floor. It is
the same arithmetic as `DeviceKernel._chips` (and `tests/reference_model.py`); the tests
run all three against each other. Without numba the numpy path is used unchanged.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np

FusedKernel = Callable[..., None]

HEALTHY, DEGRADED, HUNG, LOST = 0, 1, 3, 4
DOWN = 2


@functools.cache
def fused_kernel() -> FusedKernel | None:
    """The compiled kernel, or None without numba (or with TRNMON_NUMBA=0). Built on first
    use: importing numba costs ~0.7 s, which small fleets should not pay."""
    if os.environ.get("TRNMON_NUMBA", "1") == "0":
        return None
    try:
        from numba import njit
    except ImportError:
        return None

    @njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
    def chips_kernel(dt: float, j: Any, table: Any, hbm_table: Any, mix_t: Any,
                     kind: Any, health: Any, clock: Any, throttled: Any, link_bad: Any,
                     core_weight: Any, cores: Any, idle_w: Any, span_w: Any, r_th: Any,
                     alpha: Any, throttle_c: Any, hbm_cap: Any, ambient: Any,
                     link_state: Any, port_kind: Any, throttle_clock: float,
                     hysteresis: float, chip_busy: Any, core_util: Any, core_engine: Any,
                     core_flops: Any, hbm_used: Any, hbm_bw_util: Any, power_w: Any,
                     energy_j: Any, temp_c: Any, exec_status: Any, latency: Any,
                     link_tx: Any) -> None:  # pragma: no cover - compiled
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
            busy = min(table[s, 0] / clk, 1.0) * wf
            if hung:
                busy = 1.0
            chip_busy[c] = busy
            k = kind[s]
            per_util = table[s, 1] * wf / (busy * cores[c]) if busy > 0 else 0.0
            m0, m1, m2, m3 = mix_t[0, k], mix_t[1, k], mix_t[2, k], mix_t[3, k]
            util_row = core_util[c]
            flops_row = core_flops[c]
            eng_row = core_engine[c]
            w_row = core_weight[c]
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
            bw = table[s, 2] * wf * clk
            hbm_bw_util[c] = bw
            # power and energy
            activity = 0.6 if hung else 0.65 * busy + 0.35 * hbm_bw_util[c]
            pw = (idle_w[c] + span_w[c] * activity * clk * clk) if up else 0.0
            power_w[c] = pw
            energy_j[c] += power_w[c] * dt
            # thermal
            t = temp_c[c]
            t += (ambient[c] + r_th[c] * power_w[c] - t) * alpha[c]
            temp_c[c] = t
            t = temp_c[c]
            th = (t > throttle_c[c]) or (throttled[c] and t > throttle_c[c] - hysteresis)
            th = th and up
            throttled[c] = th
            clock[c] = throttle_clock if th else 1.0
            if h <= DEGRADED:
                health[c] = DEGRADED if (th or link_bad[c]) else HEALTHY
            # executions
            exec_status[c, 0] += table[s, 4] * wf * dt
            latency[c] = table[s, 5] * wf
            # links: 1 = inside the node, 2 = UltraServer ring
            for p in range(n_ports):
                pk = port_kind[c, p]
                if pk == 0 or link_state[c, p] == DOWN:
                    continue
                rate = table[s, 6] if pk == 1 else table[s, 7]
                link_tx[c, p] += rate * wf * dt

    return chips_kernel



# Job states and kinds, as in trnmon/sim/jobs.py and trnmon/sim/workloads.py.
J_FREE, J_LOADING, J_RUNNING, J_CHECKPOINTING, J_STALLED = 0, 1, 2, 3, 4
K_PRETRAIN, K_FINETUNE, K_INFERENCE = 0, 1, 2


@functools.cache
def fused_jobs() -> FusedKernel | None:
    """`JobTable.advance` as one loop over job slots (same arithmetic, tested the same)."""
    if os.environ.get("TRNMON_NUMBA", "1") == "0":
        return None
    try:
        from numba import njit
    except ImportError:
        return None

    @njit(cache=True, nogil=True, error_model="numpy")
    def jobs_kernel(dt: float, load: float, jitter: Any, idle: int, st: Any, kind: Any,
                    timer: Any, compute_s: Any, comm_s: Any, bubble: Any, clock: Any,
                    link_factor: Any, sv_peak_rps: Any, sv_w: Any, sv_kv: Any, sv_cap: Any,
                    sv_bw: Any, sv_out: Any, sv_prefill: Any, sv_flops_tok_chip: Any,
                    sv_flops_tok: Any, peak_flops: Any, tokens_per_step: Any,
                    flops_per_step: Any, chips: Any, hbm_bw_train: Any, exec_per_step: Any,
                    intra_per_step: Any, ring_per_step: Any, efa_per_step: Any,
                    checkpoint_every: Any, checkpoint_s: Any, step_s: Any, busy_out: Any,
                    progressing: Any, tokens_per_s: Any, flops_out: Any, mfu: Any,
                    tokens_total: Any, hbm_bw: Any, kv_bytes: Any, exec_rate: Any,
                    latency: Any, intra_rate: Any, ring_rate: Any, efa_rate: Any,
                    steps: Any, elapsed: Any, since_checkpoint: Any,
                    checkpoint_step: Any) -> None:  # pragma: no cover - compiled
        for i in range(st.shape[0]):
            s = st[i]
            live = s != J_FREE and i != idle
            if s in (J_LOADING, J_CHECKPOINTING):
                timer[i] -= dt
                if timer[i] <= 0:
                    s = J_RUNNING
                    st[i] = s
            elif s == J_STALLED:
                timer[i] += dt
            running = s == J_RUNNING
            training = kind[i] == K_PRETRAIN or kind[i] == K_FINETUNE
            clk = clock[i]
            # training step
            comp = compute_s[i] / clk
            step = (comp + comm_s[i] / link_factor[i]) * (1.0 + bubble[i]) * jitter[i]
            comp_frac = comp / step if step > 0 else 0.0
            t_busy = min(1.0, comp_frac * (1.0 + bubble[i]) ** -1 + 0.15 * (1 - comp_frac))
            # serving step (workloads.serving_step)
            rps = sv_peak_rps[i] * (load if kind[i] == K_INFERENCE else 1.0)
            mem_bw = max(sv_bw[i] * clk * 0.7, 1.0)
            demand = rps * sv_out[i]
            denom = max(mem_bw - demand * sv_kv[i], 1e-9)
            conc = min(demand * sv_w[i] / denom, sv_cap[i])
            t_mem = (sv_w[i] + conc * sv_kv[i]) / mem_bw
            t_comp = conc * sv_flops_tok_chip[i] / max(peak_flops[i] * clk * 0.6, 1.0)
            t_step = max(t_mem, t_comp)
            served = min(rps, conc / max(t_step * sv_out[i], 1e-12))
            intensity = t_comp / t_step if t_step > 0 else 0.0
            s_busy = min((1.0 - np.exp(-conc)) * (0.55 + 0.45 * intensity)
                         + served * sv_prefill[i], 1.0)
            t_step = t_step * jitter[i] / link_factor[i] ** 0.1

            is_train = training and live
            is_serve = (not training) and live
            stp = step if is_train else (t_step if is_serve else 0.0)
            step_s[i] = stp
            inv = 1.0 / stp if stp > 0 else 0.0
            busy = t_busy if is_train else s_busy
            if is_serve:
                busy = max(busy, 0.02)
            tok = tokens_per_step[i] * inv if is_train else served * sv_out[i]
            fl = flops_per_step[i] * inv if is_train else tok * sv_flops_tok[i]
            loading = s == J_LOADING
            ckpt = s == J_CHECKPOINTING
            phase = busy if running else (0.05 if (loading or ckpt) else 0.0)
            busy_out[i] = phase if live else 0.0
            prog = running and live
            progressing[i] = prog
            tokens_per_s[i] = tok if prog else 0.0
            flops_out[i] = fl / max(chips[i], 1.0) if prog else 0.0
            mfu[i] = flops_out[i] / peak_flops[i] if peak_flops[i] > 0 else 0.0
            tokens_total[i] += tokens_per_s[i] * dt
            bw = hbm_bw_train[i] if is_train else min(0.95, s_busy * 0.7 * clk)
            hbm_bw[i] = bw if prog else (0.6 if loading else 0.0)
            if ckpt and live:
                hbm_bw[i] = 0.3
            kv_bytes[i] = conc * sv_kv[i] if is_serve else 0.0
            if prog:
                exec_rate[i] = exec_per_step[i] * inv if is_train else (
                    inv if conc > 0 else 0.0)
                latency[i] = stp / max(exec_per_step[i], 1.0) if is_train else stp
            else:
                exec_rate[i] = 0.0
                latency[i] = 0.0
            pt = prog and is_train
            intra_rate[i] = intra_per_step[i] * inv if pt else 0.0
            ring_rate[i] = ring_per_step[i] * inv if pt else 0.0
            efa_rate[i] = efa_per_step[i] * inv if pt else (served * 64e3 if prog else 0.0)
            if pt:
                steps[i] += dt * inv
                since_checkpoint[i] += dt
            if prog:
                elapsed[i] += dt
            if pt and since_checkpoint[i] >= checkpoint_every[i]:
                checkpoint_step[i] = steps[i]
                since_checkpoint[i] = 0.0
                st[i] = J_CHECKPOINTING
                timer[i] = checkpoint_s[i]

    return jobs_kernel
