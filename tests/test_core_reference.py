"""The vectorized core agrees with the plain-Python reference model, tick for tick."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from tests.conftest import preset_config
from tests.reference_model import ReferenceModel
from trnmon.sim import Engine, FaultKind
from trnmon.sim.fused import fused_kernel


def _pair(seed: int = 11, backend: str = "numpy") -> tuple[Engine, Engine]:
    cfg = preset_config("tiny", seed=seed, faults={"rate_multiplier": 300.0})
    fast = Engine(cfg)
    fast.kernel.backend = fast.jobs.backend = backend
    ref = Engine(cfg)
    model = ReferenceModel(ref.topo, ref.kernel.core_weight.tolist())
    ref._advance = model.advance
    return fast, ref


def _assert_same(a: Engine, b: Engine, tick: int) -> None:
    for f in fields(a.state):
        x, y = getattr(a.state, f.name), getattr(b.state, f.name)
        if x.dtype == np.bool_ or x.dtype.kind == "i":
            assert np.array_equal(x, y), (tick, f.name)
        else:
            assert np.allclose(x, y, rtol=2e-4, atol=1e-3), (
                tick, f.name, float(np.abs(x - y).max()))
    assert np.array_equal(a.chip_job, b.chip_job), tick
    assert [r.job_id for r in a.jobs.records.values()] == [
        r.job_id for r in b.jobs.records.values()]


def _script(eng: Engine, tick: int) -> None:
    """The same incidents for both engines: every fault kind, a crash and a restart."""
    if tick == 20:
        eng.inject(FaultKind.LINK_DEGRADED, chip=5, port=1)
    if tick == 40:
        eng.inject(FaultKind.THERMAL_THROTTLE, chip=9)
    if tick == 60:
        eng.inject(FaultKind.HBM_ECC_CORRECTED, chip=2)
    if tick == 80:
        eng.inject(FaultKind.HBM_ECC_UNCORRECTED, chip=17)  # crashes the UltraServer job
    if tick == 120:
        for f in list(eng.faults.active.values()):
            if f.kind == FaultKind.HBM_ECC_UNCORRECTED:
                eng.clear(f.fault_id)  # repaired: the job restarts from its checkpoint
    if tick == 150:
        eng.inject(FaultKind.CHIP_HANG, chip=70)
    if tick == 170:
        eng.inject(FaultKind.NODE_LOSS, node=5)
    if tick == 200:
        eng.inject(FaultKind.LINK_DOWN, chip=66, port=0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_fast_core_matches_reference_through_faults_and_restarts(backend: str) -> None:
    if backend == "numba" and fused_kernel() is None:
        pytest.fail("numba is part of the dev extra; the fused kernel must be tested")
    fast, ref = _pair(backend=backend)
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
