"""`trnmon bench core`: tick cost by fleet size, against the reference and the memory floor."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from trnmon.bench.timing import median_ms, progress
from trnmon.config import FleetConfig, load_config
from trnmon.sim import Engine
from trnmon.sim.reference import reference_engine

DEFAULT_CHIPS = (4096, 40_000, 500_000)


def fleet_of(chips: int, seed: int = 0) -> FleetConfig:
    """A Trn2 fleet of `chips` chips: UltraServers, then standalone trn2 nodes."""
    us, rest = divmod(chips, 64)
    azs = [{"name": "us-east-2a", "zone_id": "use2-az1", "datacenters": max(1, us // 800),
            "racks_per_row": 16, "nodes": {"ultraservers": us, "trn2": max(rest // 16, 0)}}]
    return load_config(overrides={"name": f"bench-{chips}", "availability_zones": azs,
                                  "seed": seed}, environ={})


def _arrays(obj: object) -> list[np.ndarray[Any, Any]]:
    return [v for v in vars(obj).values() if isinstance(v, np.ndarray)]


def engine_bytes(eng: Engine) -> int:
    """Every array the engine keeps, each once: its SimState, the kernel's constants and
    scratch, the scheduler's and fault engine's constants, the topology. (A memory
    measurement, so it looks at every attribute; the state itself is `SimState.arrays()`.)"""
    seen: dict[int, int] = {}
    for arr in [*eng.sim.arrays().values(), *_arrays(eng.kernel), *_arrays(eng.topo),
                *_arrays(eng.scheduler), *_arrays(eng.faults)]:
        seen[id(arr)] = arr.nbytes
    return sum(seen.values())


def _tick_ms(eng: Engine, repeat: int) -> tuple[float, float]:
    for _ in range(3):  # settle: arrivals, first placements
        eng.step()
    return median_ms(eng.step, repeat=repeat, warmup=1)


def memcpy_bandwidth(nbytes: int) -> float:
    """Bytes/s moved by a plain copy of `nbytes` (read + write), measured now."""
    n = max(nbytes // 8, 1 << 16)
    src = np.ones(n, dtype=np.float64)
    dst = np.empty_like(src)
    # The floor is what the memory system can do at best: take the fastest copy.
    times = [median_ms(lambda: np.copyto(dst, src), repeat=1, warmup=0)[0]
             for _ in range(30)]
    return 2.0 * src.nbytes / (min(times) / 1e3)


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    sizes = tuple(args.chips or DEFAULT_CHIPS)
    repeat = args.repeat or 30
    results: dict[int, float] = {}
    for chips in sizes:
        progress(f"core.tick: building {chips} chips")
        t = time.perf_counter()
        eng = Engine(fleet_of(chips))
        build_s = time.perf_counter() - t
        progress(f"core.tick: timing {chips} chips")
        reps = repeat if chips <= 100_000 else max(5, repeat // 3)
        med, worst = _tick_ms(eng, reps)
        results[chips] = med
        yield {"bench": "core.tick", "chips": eng.topo.n_chips, "median_ms": round(med, 3),
               "max_ms": round(worst, 3), "build_s": round(build_s, 3),
               "per_chip_ns": round(med * 1e6 / eng.topo.n_chips, 2)}
        if chips == 40_000:
            touched = 2 * eng.state.nbytes  # every state array read and written once
            bw = memcpy_bandwidth(touched // 2)
            floor = touched / bw * 1e3
            yield {"bench": "core.floor", "chips": chips, "floor_ms": round(floor, 3),
                   "tick_ms": round(med, 3), "ratio": round(med / floor, 2),
                   "bytes_touched": touched, "memcpy_gb_s": round(bw / 1e9, 2)}
            yield {"bench": "core.memory", "chips": chips,
                   "bytes_per_chip": round(engine_bytes(eng) / chips, 1),
                   "state_bytes_per_chip": round(eng.state.nbytes / chips, 1)}
        del eng
    chips = 4096
    # The device tick only: the reference job tick is timed by the tests, not here.
    ref = reference_engine(fleet_of(chips), jobs=False)
    progress("core.reference: timing the scalar reference at 4096 chips")
    fast = Engine(fleet_of(chips))
    fast_ms, _ = _tick_ms(fast, repeat)
    ref_ms, _ = _tick_ms(ref, 3)
    yield {"bench": "core.reference", "chips": chips, "median_ms": round(ref_ms, 3),
           "fast_ms": round(fast_ms, 3), "speedup": round(ref_ms / fast_ms, 1)}
