"""The typed bundles the tick kernels take, instead of dozens of positional arguments.

Each is a NamedTuple of arrays (and a few scalars), so the numpy path reads fields by name
and numba compiles the same tuples as typed records. Field names are the column names of
`FleetState` and `JobTable`, so a bundle is built with `getattr` over its `_fields`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy.typing as npt

Arr = npt.NDArray[Any]

# Columns of `JobRates.table`, in the order `DeviceKernel.advance` stacks them.
(RATE_BUSY, RATE_FLOPS, RATE_HBM_BW, RATE_KV, RATE_EXEC, RATE_LATENCY, RATE_INTRA, RATE_RING,
 RATE_HBM_STATIC) = range(9)


class ChipInputs(NamedTuple):
    """Per tick: the step, each chip's job slot and ambient temperature."""

    dt: float
    chip_job: Arr  # (C,) int32 job slot
    ambient_c: Arr  # (C,) float32


class JobRates(NamedTuple):
    """What a chip reads from its job: a (slots, 9) rate table, the HBM table, the kind."""

    table: Arr  # (slots, 9) float32: busy x clock, flops, hbm_bw, kv, exec, latency,
    #             intra, ring, static HBM total
    hbm_table: Arr  # (slots, 5) float32 HBM bytes by category, KV cache in `tensors`
    mix_t: Arr  # (4, kinds + 1) float32 rules.ENGINE_MIX_T
    kind: Arr  # (slots,) int8 JobKind, rules.IDLE_KIND for the idle slot


class ChipConstants(NamedTuple):
    """Per-chip constants of the device model (from the catalog, drawn at start, or
    derived from the link states on a link event)."""

    core_weight: Arr  # (C, K) static per-core load share
    cores: Arr  # (C,) physical cores
    idle_w: Arr
    span_w: Arr  # max - idle watts
    r_th: Arr  # thermal resistance, C/W
    alpha: Arr  # 1 - exp(-dt / tau) for this tick's dt
    throttle_c: Arr
    hbm_cap: Arr  # bytes
    port_kind: Arr  # (C, P) PortKind codes
    link_bad: Arr  # (C,) some port not UP
    port_share: Arr  # (C, P) share of its kind's traffic a port carries (0 when down)


class DeviceArrays(NamedTuple):
    """The `FleetState` columns the chip tick reads and writes (names as in FleetState)."""

    health: Arr
    clock_scale: Arr
    throttled: Arr
    link_state: Arr
    chip_busy: Arr
    core_util: Arr
    core_engine: Arr
    core_flops: Arr
    hbm_used: Arr
    hbm_bw_util: Arr
    power_w: Arr
    energy_j: Arr
    temp_c: Arr
    exec_status: Arr
    latency_p50_s: Arr
    link_tx_bytes: Arr


class JobInputs(NamedTuple):
    """Per tick: the step, the diurnal load factor, per-slot jitter and the idle slot."""

    dt: float
    load: float
    jitter: Arr
    idle_slot: int


class JobCosts(NamedTuple):
    """`JobTable` columns written at placement (and the slowdowns, on events)."""

    kind: Arr
    compute_s: Arr
    comm_s: Arr
    bubble: Arr
    clock: Arr
    link_factor: Arr
    sv_peak_rps: Arr
    sv_w: Arr
    sv_kv: Arr
    sv_cap: Arr
    sv_bw: Arr
    sv_out: Arr
    sv_prefill: Arr
    sv_flops_tok_chip: Arr
    sv_flops_tok: Arr
    peak_flops: Arr
    tokens_per_step: Arr
    flops_per_step: Arr
    chips: Arr
    hbm_bw_train: Arr
    exec_per_step: Arr
    intra_per_step: Arr
    ring_per_step: Arr
    efa_per_step: Arr
    checkpoint_every: Arr
    checkpoint_s: Arr


class JobProgress(NamedTuple):
    """`JobTable` columns the job tick reads and writes (names as in JobTable)."""

    state: Arr
    timer: Arr
    step_s: Arr
    busy: Arr
    progressing: Arr
    tokens_per_s: Arr
    flops: Arr
    mfu: Arr
    tokens_total: Arr
    hbm_bw: Arr
    kv_bytes: Arr
    exec_rate: Arr
    latency: Arr
    intra_rate: Arr
    ring_rate: Arr
    efa_rate: Arr
    steps: Arr
    elapsed: Arr
    since_checkpoint: Arr
    checkpoint_step: Arr


def gather(cls: Any, obj: object) -> Any:
    """An instance of the NamedTuple `cls` from `obj`'s attributes of the same names."""
    return cls(*(getattr(obj, name) for name in cls._fields))
