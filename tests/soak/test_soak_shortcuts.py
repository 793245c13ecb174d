"""The soak's speed shortcuts change nothing: skipping placement passes between scheduler
events, caching counts between them, the compiled goodput accrual and the compiled
correctable-ECC placement give the same trajectory, bit for bit, as doing everything every
tick the plain numpy way."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from trnmon.config import load_config
from trnmon.sim import Engine
from trnmon.sim.fused import fused_ecc, fused_goodput
from trnmon.sim.soak import soak


def _lines(on_tick: object = None, days: int = 3) -> list[dict[str, object]]:
    config = load_config(preset_name="ohio", environ={})
    out = []
    for line in soak(config, days, 60.0, on_tick=on_tick):  # type: ignore[arg-type]
        line.pop("wall_s", None)
        line.pop("sim_days_per_wall_s", None)
        out.append(line)
    return out


def test_skipping_placement_passes_between_events_changes_nothing() -> None:
    def always_dirty(eng: Engine) -> None:
        sched = eng.scheduler
        sched.touch_all()  # every cell gets a pass and recounts every tick, as before

    assert _lines(always_dirty) == _lines()


def test_a_pass_without_an_event_places_nothing() -> None:
    """The rule the skip relies on: after a pass, a second pass with no event between
    them finds nothing to place, however much simulated time has passed."""
    eng = Engine(load_config(preset_name="ohio", environ={}))
    sched = eng.scheduler
    placed_by_rerun = reruns = 0
    for _ in range(2000):
        eng.step(60.0, devices=False)
        if not sched.dirty.any():
            reruns += 1
            before = sched.sched_state.placements
            sched.touch_all()
            sched.place_queued(eng.t + 3600.0)
            placed_by_rerun += sched.sched_state.placements - before
    assert reruns > 100 and placed_by_rerun == 0  # the skip happened, and lost nothing


@pytest.mark.skipif(fused_goodput() is None, reason="numba not installed")
def test_compiled_goodput_accrual_is_bit_identical_to_numpy() -> None:
    config = load_config(preset_name="ohio", environ={},
                         overrides={"faults": {"rate_multiplier": 200.0}})
    engines = [Engine(config), Engine(config)]
    for eng, backend in zip(engines, ("numba", "numpy"), strict=True):
        eng.jobs.backend = "numba"  # the same job tick for both ...

        def accrue(totals: object, slot_cell: object, dt: float, lost: object = None,
                   _eng: Engine = eng, _backend: str = backend) -> None:
            jobs = _eng.jobs
            jobs.backend = _backend  # ... and each accrual its own way
            try:
                type(jobs).accrue_goodput(jobs, totals, slot_cell, dt,  # type: ignore[arg-type]
                                          lost)  # type: ignore[arg-type]
            finally:
                jobs.backend = "numba"

        eng.jobs.accrue_goodput = accrue  # type: ignore[method-assign]
    for _ in range(1500):
        for eng in engines:
            eng.step(60.0, devices=False)
    a, b = (e.sim.sched.goodput for e in engines)
    assert a.tobytes() == b.tobytes() and a.sum() > 0
    for col in ("gp_productive", "gp_checkpoint", "gp_loading", "gp_lost"):
        assert getattr(engines[0].jobs, col).tobytes() == getattr(engines[1].jobs, col).tobytes()
    assert engines[0].sim.sched.goodput[..., 3].sum() > 0  # crashes and stalls were accrued
    lost = [e.sim.sched.lost for e in engines]  # lost work by cause, restarts' reloads too
    assert lost[0].tobytes() == lost[1].tobytes() and lost[0].sum() > 0


@pytest.mark.skipif(fused_ecc() is None, reason="numba not installed")
def test_compiled_ecc_positions_equal_each_cells_searchsorted() -> None:
    rng = np.random.default_rng(5)
    bounds = [0, 7, 7 + 1600, 7 + 1600 + 3, 2000]  # cells of 7, 1,600, 3 and 390 chips
    cdf = np.empty(bounds[-1])
    for lo, hi in itertools.pairwise(bounds):
        w = rng.lognormal(0.0, 2.0, hi - lo)
        cdf[lo:hi] = np.cumsum(w / w.sum())
    u = np.concatenate([rng.random(50), [0.0, 1.0 - 1e-17, cdf[9], cdf[9] - 1e-16]])
    cells = rng.integers(0, len(bounds) - 1, u.size)
    cells[-4:] = 1
    lo, hi = np.array(bounds[:-1])[cells], np.array(bounds[1:])[cells]
    out = np.empty(u.size, dtype=np.intp)
    fused_ecc()(cdf, u, lo, hi, out)  # type: ignore[misc]
    expect = [min(int(np.searchsorted(cdf[a:b], x, side="right")), b - a - 1) + a
              for a, b, x in zip(lo.tolist(), hi.tolist(), u.tolist(), strict=True)]
    assert out.tolist() == expect
