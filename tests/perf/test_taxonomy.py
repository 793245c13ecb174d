"""The fault taxonomy reproduces the Llama 3 table; correctable ECC is heavy-tailed."""

from __future__ import annotations

import numpy as np
import pytest

from trnmon.sim.taxonomy import (
    CAUSE_BY_NAME,
    CAUSE_NAMES,
    TOTAL_RATE_PER_1E4_CHIP_DAYS,
    Level,
    correctable_ecc_rates,
    level_rates,
)


def test_cause_names_are_the_contract() -> None:
    assert CAUSE_NAMES == ("faulty_chip", "hbm", "software", "network", "host", "sram",
                           "system_processor", "nic", "collective_timeout", "sdc", "thermal",
                           "other")


def test_rates_reproduce_the_llama3_table() -> None:
    total = TOTAL_RATE_PER_1E4_CHIP_DAYS
    assert total == pytest.approx(4.736, abs=0.002)
    # The paper's percentages (its count 148 for faulty GPUs contradicts them; see taxonomy).
    expected = {"faulty_chip": (1.424, 0.301), "hbm": (0.814, 0.172),
                "software": (0.610, 0.129), "network": (0.396, 0.084),
                "host": (0.362, 0.076)}
    for name, (rate, share) in expected.items():
        cause = CAUSE_BY_NAME[name]
        assert cause.rate_per_1e4_chip_days == pytest.approx(rate, abs=0.001)
        assert cause.share == pytest.approx(share, abs=0.001)
    assert sum(CAUSE_BY_NAME[n].count for n in CAUSE_NAMES) == 419


def test_levels() -> None:
    assert {c.name for c in level_rates(Level.NODE)[0]} == {"host", "other"}
    assert {c.name for c in level_rates(Level.LINK)[0]} == {"network", "nic"}
    assert {c.name for c in level_rates(Level.JOB)[0]} == {"software", "collective_timeout"}
    causes, rates = level_rates(Level.CHIP)
    assert len(causes) == len(rates) == 6 and (rates > 0).all()


def test_correctable_ecc_is_heavy_tailed() -> None:
    rng = np.random.default_rng(3)
    rates = correctable_ecc_rates(rng, 200_000)
    days = 30.0
    events = rng.poisson(rates * days * 86400.0)
    with_any = float((events > 0).mean())
    assert 0.01 < with_any < 0.05  # a few percent of devices in a month, not 97 %
    top = np.sort(events)[::-1]
    assert top[: len(top) // 100].sum() > 0.8 * top.sum()  # a handful dominate
