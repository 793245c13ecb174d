"""At rate_multiplier = 1 the fleet's jobs are interrupted at Llama 3's rate, in its mix."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import preset_config
from trnmon.sim import Engine
from trnmon.sim.taxonomy import CAUSE_BY_NAME, TOTAL_RATE_PER_1E4_CHIP_DAYS


@pytest.mark.slow  # 30 emulated days of 40,000 chips at 300 s ticks
def test_ultracluster_interruptions_match_llama3() -> None:
    eng = Engine(preset_config("ultracluster-40k", seed=1))
    st = eng.scheduler.sched_state
    before = Counter(st.interruptions)
    dt, busy, failed = 300.0, 0.0, st.failed
    for _ in range(int(30 * 86400 / dt)):
        eng.step(dt, devices=False)
        busy += float((eng.chip_job != eng.jobs.idle_slot).sum()) * dt / 86400.0
    rate = (st.failed - failed) / busy * 1e4
    assert rate == pytest.approx(TOTAL_RATE_PER_1E4_CHIP_DAYS, rel=0.15)
    causes = Counter(st.interruptions) - before
    total = sum(causes.values())
    assert total == st.failed - failed
    for name in ("faulty_chip", "hbm", "software", "network", "host"):
        assert causes[name] / total == pytest.approx(CAUSE_BY_NAME[name].share, abs=0.05), name
