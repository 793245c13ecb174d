"""`trnmon bench cost`: what the cost meter adds to a soak tick (`trnmon/sim/costmeter.py`).

One line per preset and meter backend: `{"bench": "cost", "preset", "backend",
"us_per_tick", "tick_us", "share", ...}`: the mean wall microseconds of `CostMeter.step`
per 60 s soak tick (the engine without its per-chip device tick, as `trnmon soak` runs
it), the mean whole tick, and the meter's share of it. `backend` is "numba" (the compiled
tick a long run switches to, trnmon/sim/costkernel.py) or "numpy" (what it starts with,
and the only path without numba). The fleet first runs a simulated day so the queue and
faults are in their steady state; the timed ticks then run `days` more simulated days.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import Any

from trnmon.config import load_config
from trnmon.sim import Engine
from trnmon.sim.simstate import SimState

TICK_S = 60.0
WARMUP_DAYS = 1.0
DEFAULT_DAYS = 2  # 2,880 timed ticks


def measure(preset: str, days: int, backend: str) -> dict[str, Any]:
    """Time the meter inside a soak-like run of `preset` with the given backend."""
    eng = Engine(load_config(preset_name=preset, environ={}))
    meter = eng.cost
    meter.fuse_at = 0 if backend == "numba" else None  # compiled from the first tick, or never
    for _ in range(int(WARMUP_DAYS * 86400 / TICK_S)):
        eng.step(TICK_S, devices=False)
    if backend == "numba" and meter.kernel is None:
        return {"bench": "cost", "preset": preset, "backend": backend,
                "skipped": "numba is not installed (or TRNMON_NUMBA=0)"}
    inner = meter.step
    spent = [0.0]

    def timed(sim: SimState, dt: float) -> None:
        t = time.perf_counter()
        inner(sim, dt)
        spent[0] += time.perf_counter() - t

    meter.step = timed  # type: ignore[method-assign]  # the engine calls self.cost.step
    ticks = int(days * 86400 / TICK_S)
    started = time.perf_counter()
    for _ in range(ticks):
        eng.step(TICK_S, devices=False)
    wall = time.perf_counter() - started
    meter.step = inner  # type: ignore[method-assign]
    return {"bench": "cost", "preset": preset, "backend": backend,
            "us_per_tick": round(spent[0] / ticks * 1e6, 2),
            "tick_us": round(wall / ticks * 1e6, 2), "share": round(spent[0] / wall, 4),
            "ticks": ticks, "tick_s": TICK_S}


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    presets = [args.preset] if args.preset else ["ohio"]
    for name in presets:
        for backend in ("numba", "numpy"):
            yield measure(name, args.repeat or DEFAULT_DAYS, backend)
