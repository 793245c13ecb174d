"""At rate_multiplier = 1 the fleet's jobs are interrupted at Llama 3's rate, in its mix."""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt
import pytest

from tests.conftest import preset_config
from trnmon.sim import Engine
from trnmon.sim.faults import Fault
from trnmon.sim.taxonomy import CAUSE_BY_NAME, TOTAL_RATE_PER_1E4_CHIP_DAYS


@pytest.mark.slow  # 30 emulated days of 40,000 chips: about a minute and a half
def test_ultracluster_interruptions_match_llama3() -> None:
    eng = Engine(preset_config("ultracluster-40k", seed=1))
    submit = eng.scheduler.submit

    def submit_or_drop(*args: object, **kw: object) -> int:
        try:
            return submit(*args, **kw)  # type: ignore[arg-type]
        except ValueError:  # a full queue drops the arrival; placement is not under test
            return -1

    eng.scheduler.submit = submit_or_drop  # type: ignore[method-assign]
    causes: Counter[str] = Counter()
    current = [""]
    crash, draw = eng.faults._crash_jobs, eng.faults._random

    def counting_crash(chips: npt.NDArray[np.intp], reason: str, fault: Fault) -> None:
        causes[current[0]] += len(eng.scheduler.jobs_on_chips(chips))
        crash(chips, reason, fault)

    def tagged_draw(cause: str, *args: object, **kw: object) -> None:
        current[0] = cause
        draw(cause, *args, **kw)  # type: ignore[arg-type]
        current[0] = ""

    eng.faults._crash_jobs = counting_crash  # type: ignore[method-assign]
    eng.faults._random = tagged_draw  # type: ignore[method-assign]
    dt, busy, failed = 300.0, 0.0, eng.scheduler.failed
    for _ in range(int(30 * 86400 / dt)):
        eng.step(dt)
        busy += float((eng.chip_job != eng.jobs.idle_slot).sum()) * dt / 86400.0
    rate = (eng.scheduler.failed - failed) / busy * 1e4
    assert rate == pytest.approx(TOTAL_RATE_PER_1E4_CHIP_DAYS, rel=0.15)
    total = sum(v for k, v in causes.items() if k)
    for name in ("faulty_chip", "hbm", "software", "network", "host"):
        assert causes[name] / total == pytest.approx(CAUSE_BY_NAME[name].share, abs=0.05), name
