"""The cost meter's tick fused into one compiled loop with numba, when installed.

`CostMeter.step` (trnmon/sim/costmeter.py) in numpy is ~40 small array operations a tick,
which on a small fleet is all call overhead (a 48-node fleet spent a quarter of its soak
tick there). This kernel does the same work in one pass over the nodes and one over the
job slots, in the same arithmetic and the same order of additions as the numpy path
(`CapacityLedger.accrue` on `CostMeter.classify`, whose `np.bincount` adds each bin's
contributions in index order starting from zero), so both give the same bits; the tests
run both. Without numba (or with TRNMON_NUMBA=0) the numpy path is used.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from trnmon.sim.cost import CapacityState

MeterKernel = Callable[..., None]
_PRODUCTIVE = int(CapacityState.PRODUCTIVE)
_IDLE = int(CapacityState.IDLE)
_UNALLOCATED = int(CapacityState.UNALLOCATED)
_UNHEALTHY = int(CapacityState.UNHEALTHY)
_STATES = len(CapacityState)


@functools.cache
def meter_kernel() -> MeterKernel | None:
    """The compiled meter tick, or None without numba (or with TRNMON_NUMBA=0)."""
    if os.environ.get("TRNMON_NUMBA", "1") == "0":
        return None
    try:
        from numba import njit
    except ImportError:
        return None

    @njit(cache=True, nogil=True, error_model="numpy")
    def meter_tick(node_slot: Any, unheld: Any, usable: Any, node_family: Any,
                   node_rate: Any, job_state: Any, job_kind: Any, progressing: Any,
                   busy: Any, state_lut: Any, training_lut: Any, dt: float,
                   scratch: Any, ledger_s: Any, ledger_d: Any,
                   slot_per_hour: Any, live: Any, slot_family: Any, tokens_total: Any,
                   seen: Any, slot_dollars: Any, slot_tokens: Any, family_tokens: Any,
                   family_scratch: Any) -> None:  # pragma: no cover - compiled
        per_h = dt / 3600.0
        scratch[:, :] = 0.0
        for i in range(node_slot.shape[0]):
            s = node_slot[i]
            if not usable[i]:
                st = _UNHEALTHY
            elif unheld[i]:
                st = _UNALLOCATED
            else:
                st = state_lut[job_state[s]]
            w = 1.0
            if st == _PRODUCTIVE:
                if training_lut[job_kind[s]]:
                    w = 1.0 if progressing[s] else 0.0
                else:
                    w = min(max(busy[s], 0.0), 1.0)
            k = node_family[i] * _STATES + st
            idle = node_family[i] * _STATES + _IDLE
            scratch[0, k] += w * dt
            scratch[1, k] += w * node_rate[i] * per_h
            wi = 1.0 - w
            scratch[2, idle] += wi * dt
            scratch[3, idle] += wi * node_rate[i] * per_h
        for b in range(ledger_s.shape[0]):
            ledger_s[b] += scratch[0, b]
            ledger_d[b] += scratch[1, b]
            ledger_s[b] += scratch[2, b]
            ledger_d[b] += scratch[3, b]
        family_scratch[:] = 0.0
        for j in range(slot_dollars.shape[0]):
            slot_dollars[j] += slot_per_hour[j] * per_h
            d = (tokens_total[j] - seen[j]) * live[j]
            slot_tokens[j] += d
            seen[j] = tokens_total[j] * live[j]
            family_scratch[slot_family[j]] += d
        for f in range(family_tokens.shape[0]):
            family_tokens[f] += family_scratch[f]

    return meter_tick
