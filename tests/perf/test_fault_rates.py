"""Random faults follow the taxonomy: rates, mix, levels (node causes once per node)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from tests.conftest import preset_config
from trnmon.sim import Engine, Health
from trnmon.sim.faultkinds import CAUSE_KIND, Fault, FaultKind
from trnmon.sim.taxonomy import CAUSE_BY_NAME, CAUSES, TOTAL_RATE_PER_1E4_CHIP_DAYS, Level

DAY = 86400.0


def _draws(days: int, multiplier: float) -> tuple[Counter[str], int]:
    """Causes drawn on the ohio fleet with a job on every chip and no effects applied."""
    eng = Engine(preset_config("ohio", seed=11, faults={"rate_multiplier": multiplier}))
    faults = eng.faults
    seen: Counter[str] = Counter()

    def record(kind: FaultKind, **kw: object) -> Fault:
        seen[str(kw["cause"])] += 1
        return Fault(0, kind, -1, -1, -1, 0.0, None, False)

    # Effects off (public seams): faults are recorded, not applied, so every chip stays
    # healthy and under a job, and no job is crashed.
    faults.raise_fault = record  # type: ignore[method-assign]
    faults.sched.jobs_on_chips = lambda chips: [0]  # type: ignore[method-assign]
    faults.sched.fail_job = lambda slot, reason, cause="other": None  # type: ignore[method-assign]
    for day in range(days):
        faults.draw(DAY, day * DAY)
    return seen, eng.topo.n_chips


def test_rates_and_mix_reproduce_llama3() -> None:
    multiplier, days = 200.0, 20
    seen, chips = _draws(days, multiplier)
    chip_days = chips * days * multiplier
    total = sum(seen.values()) / chip_days * 1e4
    assert total == pytest.approx(TOTAL_RATE_PER_1E4_CHIP_DAYS, rel=0.1)
    n = sum(seen.values())
    for name in ("faulty_chip", "hbm", "software", "network", "host"):
        assert seen[name] / n == pytest.approx(CAUSE_BY_NAME[name].share, abs=0.03), name
    assert set(seen) <= {c.name for c in CAUSES} and set(CAUSE_KIND) == {c.name for c in CAUSES}


def test_node_causes_land_once_per_node() -> None:
    eng = Engine(preset_config("tiny", seed=3, faults={"rate_multiplier": 1e5,
                                                      "repair_hours": 1000.0}))
    eng.step(600.0)
    lost = [f for f in eng.faults.active.values() if f.kind == FaultKind.NODE_LOSS]
    assert lost and all(f.cause in ("host", "other") and f.chip == -1 for f in lost)
    node_rate = sum(c.rate_per_chip_second for c in CAUSES if c.level == Level.NODE)
    expect = node_rate * 1e5 * 600.0 * eng.topo.n_chips  # per chip-second x chips
    assert len(lost) <= max(3.0 * expect, expect + 10)  # not x chips-per-node


def test_hard_chip_failures_drain_the_node_and_crash_the_job() -> None:
    eng = Engine(preset_config("tiny", seed=2, faults={"enabled": False}))
    for _ in range(40):
        eng.step(5.0)
    slot = next(iter(eng.jobs.records))
    chip = int(eng.topo.node_chip_start[eng.jobs.records[slot].nodes[0]])
    node = int(eng.topo.chip_node[chip])
    failed_before = eng.scheduler.failed
    f = eng.inject(FaultKind.CHIP_FAILURE, chip=chip)
    assert eng.state.health[chip] == Health.FAILED
    assert not eng.scheduler.node_usable[node] and eng.scheduler.failed == failed_before + 1
    eng.clear(f.fault_id)
    assert eng.state.health[chip] == Health.HEALTHY


@pytest.mark.parametrize("kind", [FaultKind.SOFTWARE_CRASH, FaultKind.EFA_DOWN,
                                  FaultKind.SILENT_DATA_CORRUPTION])
def test_job_interrupting_kinds(kind: FaultKind) -> None:
    eng = Engine(preset_config("tiny", seed=2, faults={"enabled": False}))
    for _ in range(40):
        eng.step(5.0)
    slot = next(iter(eng.jobs.records))
    chip = int(eng.topo.node_chip_start[eng.jobs.records[slot].nodes[0]])
    before = eng.scheduler.failed
    eng.inject(kind, chip=chip)
    assert eng.scheduler.failed == before + 1
    healthy = kind in (FaultKind.SOFTWARE_CRASH, FaultKind.EFA_DOWN)
    assert (eng.state.health[chip] == Health.HEALTHY) == healthy


def test_correctable_ecc_heavy_tail_in_the_fleet() -> None:
    eng = Engine(preset_config("ohio", seed=4))
    cdf = eng.faults.ecc_cdf[: eng.topo.n_chips]
    weights = np.diff(np.concatenate(([0.0], cdf)))
    top = np.sort(weights)[::-1]
    assert top[: max(1, len(top) // 50)].sum() > 0.9  # the weak 2 % take > 90 % of events
