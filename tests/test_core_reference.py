"""The fast cores agree with the executable specification (`trnmon/sim/reference.py`).

Device tick: numpy on `tiny` (one block), numpy on 12,288 chips (two cache blocks of
BLOCK_CHIPS) and numba at FUSED_MIN_CHIPS (where production switches to it). Job tick: the
vectorized `JobTable.advance` (numpy and numba) against the per-slot reference.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from tests.conftest import preset_config
from trnmon.bench.core import fleet_of
from trnmon.config import FleetConfig
from trnmon.sim import Engine, FaultKind
from trnmon.sim.fused import fused_jobs, fused_kernel
from trnmon.sim.kernel import BLOCK_CHIPS, FUSED_MIN_CHIPS
from trnmon.sim.reference import reference_engine
from trnmon.sim.structs import JobCosts, JobProgress


def _pair(cfg: FleetConfig, backend: str, *, ref_jobs: bool = False) -> tuple[Engine, Engine]:
    fast = Engine(cfg)
    fast.kernel.backend = fast.jobs.backend = backend
    ref = reference_engine(cfg, jobs=ref_jobs)
    ref.jobs.backend = backend  # with ref_jobs the reference job tick runs instead
    return fast, ref


def _close(x: np.ndarray, y: np.ndarray) -> bool:
    if x.dtype == np.bool_ or x.dtype.kind == "i":
        return bool(np.array_equal(x, y))
    return bool(np.allclose(x, y, rtol=2e-4, atol=1e-3))


def _assert_same(a: Engine, b: Engine, tick: int) -> None:
    for f in fields(a.state):
        x, y = getattr(a.state, f.name), getattr(b.state, f.name)
        assert _close(x, y), (tick, f.name, float(np.abs(x.astype(float) - y).max()))
    for name in JobProgress._fields + JobCosts._fields:
        x, y = getattr(a.jobs, name), getattr(b.jobs, name)
        assert _close(x, y), (tick, f"jobs.{name}")
    assert np.array_equal(a.chip_job, b.chip_job), tick
    assert [r.job_id for r in a.jobs.records.values()] == [
        r.job_id for r in b.jobs.records.values()]


def _script(eng: Engine, tick: int, stretch: int = 1) -> None:
    """The same incidents for both engines: every fault kind, a crash and a restart."""
    at = {20: "link", 40: "thermal", 60: "ecc", 80: "crash", 100: "efa", 120: "repair",
          150: "hang", 170: "node", 200: "down", 230: "efa_repair"}
    what = at.get(tick * stretch) if tick * stretch in at else None
    if what == "link":
        eng.inject(FaultKind.LINK_DEGRADED, chip=5, port=1)
    elif what == "thermal":
        eng.inject(FaultKind.THERMAL_THROTTLE, chip=9)
    elif what == "ecc":
        eng.inject(FaultKind.HBM_ECC_CORRECTED, chip=2)
    elif what == "crash":
        eng.inject(FaultKind.HBM_ECC_UNCORRECTED, chip=17)  # crashes the UltraServer job
    elif what == "repair":
        for f in list(eng.faults.active.values()):
            if f.kind == FaultKind.HBM_ECC_UNCORRECTED:
                eng.clear(f.fault_id)  # replaced: the job restarts from its checkpoint
    elif what == "efa":
        eng.inject(FaultKind.EFA_DOWN, chip=3)  # its traffic moves to the node's others
    elif what == "efa_repair":
        for f in list(eng.faults.active.values()):
            if f.kind == FaultKind.EFA_DOWN:
                eng.clear(f.fault_id)
    elif what == "hang":
        eng.inject(FaultKind.CHIP_HANG, chip=70)
    elif what == "node":
        eng.inject(FaultKind.NODE_LOSS, node=5)
    elif what == "down":
        eng.inject(FaultKind.LINK_DOWN, chip=66, port=0)


def _require_numba(backend: str) -> None:
    if backend == "numba" and (fused_kernel() is None or fused_jobs() is None):
        pytest.fail("numba is a runtime dependency; the fused kernels must be tested")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("ref_jobs", [False, True], ids=["device-tick", "job-tick"])
def test_fast_core_matches_reference_through_faults_and_restarts(backend: str,
                                                                 ref_jobs: bool) -> None:
    _require_numba(backend)
    cfg = preset_config("tiny", seed=11, faults={"rate_multiplier": 300.0})
    fast, ref = _pair(cfg, backend, ref_jobs=ref_jobs)
    restarted = False
    for tick in range(260):
        for eng in (fast, ref):
            _script(eng, tick)
            eng.step(5.0)
        _assert_same(fast, ref, tick)
        restarted |= any(r.restarts for r in fast.jobs.records.values())
    assert restarted, "the script must exercise a job restart"
    kinds = {e.kind for e in fast.events}
    assert {"fault_raised", "fault_cleared", "job_failed", "job_restarted"} <= kinds


@pytest.mark.slow
@pytest.mark.parametrize(("chips", "backend"), [(12_288, "numpy"), (FUSED_MIN_CHIPS, "numba")],
                         ids=["numpy-blocks", "numba"])
def test_large_fleet_matches_reference(chips: int, backend: str) -> None:
    """Few ticks (the reference is slow), both ticks the reference, incidents early."""
    _require_numba(backend)
    assert chips > BLOCK_CHIPS
    cfg = fleet_of(chips, seed=5).model_copy(update={
        "faults": preset_config("tiny", faults={"rate_multiplier": 300.0}).faults})
    fast, ref = _pair(cfg, backend, ref_jobs=True)
    assert Engine(cfg).kernel.backend == ("numba" if chips >= FUSED_MIN_CHIPS else "numpy")
    for tick in range(8):
        for eng in (fast, ref):
            _script(eng, tick, stretch=20)
            eng.step(5.0)
        _assert_same(fast, ref, tick)
    assert fast.faults.active, "the script must raise faults"
    assert any(r for r in fast.jobs.records.values())
