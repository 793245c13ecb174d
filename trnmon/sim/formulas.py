"""The per-tick formulas of the model, written once for arrays, scalars and numba.

Each function is pure arithmetic over its arguments and the coefficients of
`trnmon/sim/rules.py`: no branch on a value, no allocation beyond the expression, only
operators, `np.exp` and `minimum` / `maximum` (numpy's ufuncs here; `fused.py` rebinds
them to the builtins `min` / `max` for numba), which behave the same on numpy arrays,
numpy scalars, Python floats and inside `numba.njit`. So

- the numpy kernels (`DeviceKernel._chips` / `_nodes`, `JobTable.advance`) call them on
  arrays,
- the numba kernels (`trnmon/sim/fused.py`) compile these very functions with `njit`,
  inlined into the per-chip and per-job loops,
- the reference model (`trnmon/sim/reference.py`) calls them on Python floats.

Each path keeps its own dtypes (float32 state in the numpy chip tick, float64 scalars in
numba) because the functions never cast: the operands decide, exactly as the inline
expressions they replaced did, which is what keeps the golden digests bit-identical. The
masks (working, hung, up, live, guards against a zero divisor) stay with the callers,
where numpy uses `np.where` / boolean indexing and the loops use `if`; they select
between formula results and never change one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trnmon.sim.rules import (
    ACTIVITY_BUSY,
    ACTIVITY_HBM,
    COMM_BUSY,
    COMPUTE_EFFICIENCY,
    DECODE_BUSY_BASE,
    DECODE_BUSY_INTENSITY,
    HBM_EFFICIENCY,
    HOST_BASE_MEM,
    HOST_SYSTEM_BASE,
    HOST_SYSTEM_PER_RUNTIME,
    HOST_USER_BASE,
    HOST_USER_PER_RUNTIME,
    RUNTIME_SYSTEM_SHARE,
    RUNTIME_USER_SHARE,
    SERVE_HBM_BW_MAX,
    SERVE_HBM_BW_PER_BUSY,
    SERVE_LINK_EXPONENT,
    THROTTLE_HYSTERESIS_C,
)

# A Python float, a numpy scalar or an array (or a numba scalar): every formula maps it
# elementwise, and the operands' dtypes decide the result's.
X = Any

# The least positive normal float64. A guard divisor: not the least subnormal, because a
# division by a subnormal takes a microcode assist (it made the job kernel 2.4x slower).
TINY = 2.2250738585072014e-308

# Elementwise min / max. numpy's ufuncs work on arrays and scalars alike, but numba
# compiles the scalar ufunc as a NaN-propagating call that made the job kernel 2.5x slower;
# `trnmon/sim/fused.py` compiles each formula with these two names bound to the builtins
# `min` / `max` (what its loops used before), argument order unchanged.
minimum = np.minimum
maximum = np.maximum

# --- the chip tick ---------------------------------------------------------------------


def chip_busy(job_busy_clock: X, clock: X, working: X) -> X:
    """A working chip's busy share: the job's busy x clock over this chip's clock, at most
    1 (a slowed chip is busy longer); `working` is 1.0 or 0.0. Hung chips are set to 1."""
    return minimum(job_busy_clock / clock, 1.0) * working


def flops_per_util(job_flops: X, working: X, busy: X, cores: X) -> X:
    """FLOP/s per unit of core utilization (callers guard busy > 0)."""
    return job_flops * working / (busy * cores)


def hbm_bw_util(job_bw: X, working: X, clock: X) -> X:
    """HBM bandwidth utilization: the job's share, scaled by this chip's clock."""
    return job_bw * working * clock


def activity(busy: X, bw_util: X) -> X:
    """Share of dynamic power in use (a hung chip's is `rules.HUNG_ACTIVITY`)."""
    return ACTIVITY_BUSY * busy + ACTIVITY_HBM * bw_util


def power(idle_w: X, span_w: X, activity: X, clock: X) -> X:
    """Board power: idle plus the dynamic span x activity, cut by DVFS as clock²."""
    return idle_w + span_w * activity * clock ** 2


def thermal_alpha(dt: X, tau: X) -> X:
    """The RC model's step weight: exact for an input held constant over the tick."""
    return 1.0 - np.exp(-dt / tau)


def steady_temp(ambient: X, r_th: X, power: X) -> X:
    """Where the die temperature heads at this power: ambient + R_th x P."""
    return ambient + r_th * power


def temp_step(temp: X, steady: X, alpha: X) -> X:
    """One RC step of the die temperature towards `steady`."""
    return temp + (steady - temp) * alpha


def throttling(temp: X, was_throttled: X, limit: X) -> X:
    """Throttled above the limit; once throttled, until `THROTTLE_HYSTERESIS_C` below it."""
    return (temp > limit) | (was_throttled & (temp > limit - THROTTLE_HYSTERESIS_C))


def counter_step(rate: X, working: X, dt: X) -> X:
    """A counter's increment over the tick on a working chip."""
    return rate * working * dt


# --- the host tick -----------------------------------------------------------------------


def runtime_vcpu_user(share: X) -> X:
    """The Neuron runtime's user-mode vCPU ratio from its vCPU share."""
    return share * RUNTIME_USER_SHARE


def runtime_vcpu_system(share: X) -> X:
    """The Neuron runtime's system-mode vCPU ratio from its vCPU share."""
    return share * RUNTIME_SYSTEM_SHARE


def host_vcpu_user(share: X) -> X:
    """The host-wide user vCPU ratio: a baseline plus the runtime's load."""
    return HOST_USER_BASE + share * HOST_USER_PER_RUNTIME


def host_vcpu_system(share: X) -> X:
    """The host-wide system vCPU ratio: a baseline plus the runtime's load."""
    return HOST_SYSTEM_BASE + share * HOST_SYSTEM_PER_RUNTIME


def host_mem_used(job_mem: X) -> X:
    """Host memory in use: the OS and agents plus the job's host processes."""
    return HOST_BASE_MEM + job_mem


# --- the job tick ------------------------------------------------------------------------


def training_step(compute_s: X, comm_s: X, clock: X, link: X, bubble: X, jitter: X) -> X:
    """Seconds per training step: compute at the slowest chip's clock plus exposed
    communication at the worst link, times the pipeline bubble and the tick's jitter."""
    return (compute_s / clock + comm_s / link) * (1.0 + bubble) * jitter


def training_busy(comp_frac: X, bubble: X) -> X:
    """Cores' busy share in a training step: compute outside the bubble, `COMM_BUSY`
    while waiting on communication."""
    return minimum(1.0, comp_frac * (1.0 + bubble) ** -1
                      + COMM_BUSY * (1 - comp_frac))


def serving_link_step(t_step: X, jitter: X, link: X) -> X:
    """A decode step slowed by jitter and (weakly) by the worst link."""
    return t_step * jitter / link ** SERVE_LINK_EXPONENT


def serving_hbm_bw(s_busy: X, clock: X) -> X:
    """HBM bandwidth utilization of a serving job: follows its busy share."""
    return minimum(SERVE_HBM_BW_MAX, s_busy * SERVE_HBM_BW_PER_BUSY * clock)


def decode_step(rps: X, w: X, kv: X, cap: X, bw: X, out_tok: X, prefill: X, flops_tok: X,
                peak: X) -> tuple[X, X, X, X]:
    """Decode under Little's law and the roofline, per chip (`bw` and `peak` at the chip's
    clock). Returns (concurrency, decode step seconds, busy share, served requests/s).

    Concurrency C = rps * out_tokens * t_step with the memory-bound step
    t_step = (W + C*kv) / (BW*eta) gives C = rps*o*W / (BW*eta - rps*o*kv), capped by the
    KV capacity (eta = `HBM_EFFICIENCY`); the step is then the slower of memory and compute
    (C tokens x 2P/chips FLOPs). Busy: time with a sequence in flight (Poisson), engines
    partly stalled on DMA while memory-bound, plus compute-bound prefill; at most 1.
    One flat function (no calls) so numba compiles it as it stands.
    """
    mem_bw = maximum(bw * HBM_EFFICIENCY, 1.0)
    demand = rps * out_tok
    denom = maximum(mem_bw - demand * kv, 1e-9)
    conc = minimum(demand * w / denom, cap)
    t_mem = (w + conc * kv) / mem_bw
    t_comp = conc * flops_tok / maximum(peak * COMPUTE_EFFICIENCY, 1.0)
    t_step = maximum(t_mem, t_comp)
    served = minimum(rps, conc / maximum(t_step * out_tok, 1e-12))
    # t_step >= t_comp >= 0 and a step is never a subnormal number of seconds (it is 0 for
    # a slot that does not serve, at least ~1e-9 s otherwise): over max(t_step, TINY) this
    # is exactly t_comp / t_step when t_step > 0 and 0 when both are 0, a guard without a
    # branch.
    intensity = t_comp / maximum(t_step, TINY)
    busy = minimum((1.0 - np.exp(-conc))
                      * (DECODE_BUSY_BASE + DECODE_BUSY_INTENSITY * intensity)
                      + served * prefill, 1.0)
    return conc, t_step, busy, served


# What `trnmon/sim/fused.py` compiles with numba (the scalar loop bodies call these).
CHIP_FORMULAS = (chip_busy, flops_per_util, hbm_bw_util, activity, steady_temp, temp_step,
                 throttling, counter_step)
JOB_FORMULAS = (training_step, training_busy, serving_link_step, serving_hbm_bw, decode_step)
