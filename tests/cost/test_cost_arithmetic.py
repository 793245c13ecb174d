"""Cost arithmetic: rates from the price catalog and `[pricing]`, job cost, capacity ledger.

Every expected value is exact (prices, shares and durations chosen to be binary fractions),
so equality is exact, not approximate.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from trnmon.cli import main
from trnmon.config import PricingConfig, load_config
from trnmon.errors import ConfigError
from trnmon.hw import prices
from trnmon.hw.catalog import INSTANCE_TYPES
from trnmon.hw.prices import PRICE_BY_TYPE, PRICES
from trnmon.sim.cost import (
    FAMILIES,
    CapacityLedger,
    CapacityState,
    burn_rate,
    family_of,
    goodput_tokens_per_dollar,
    job_cost,
    node_rates,
    resolve_rate,
    resolve_rates,
    tokens_per_dollar,
)


def test_catalog_prices_every_emulated_type_with_provenance() -> None:
    for t in INSTANCE_TYPES:
        assert t.name in PRICE_BY_TYPE
    assert "trn1n.32xlarge" in PRICE_BY_TYPE
    for p in PRICES:
        assert p.usd_per_hour > 0 and p.source and p.as_of[:2] == "20"
        assert p.status in ("published", "quoted", "placeholder")


def test_catalog_rows_are_us_east_2_with_a_dated_url() -> None:
    """Deliver 1: us-east-2 list prices, each with where and when it was read; a row that
    is not quoted for us-east-2 says which region it is, a placeholder says so."""
    assert prices.REGION == "us-east-2" and prices.CURRENCY == "USD"
    for p in PRICES:
        assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", p.as_of), p
        if p.placeholder:
            assert "no published price" in p.source
            continue
        assert "https://" in p.source and "retrieved 2026-11-30" in p.source, p
        assert p.quoted_region == "", p  # every quoted row is quoted for us-east-2 itself
        assert f"us-east-2 onDemand {p.usd_per_hour!r}" in p.source, p
    assert [p.instance_type for p in PRICES if p.placeholder] == ["trn2u.48xlarge"]


def test_job_of_known_size_and_price_costs_exactly() -> None:
    # 8 instances at $40/h for 90 minutes: 8 x 40 x 1.5 = $480.
    assert job_cost(8, 40.0, 5400.0) == 480.0
    assert burn_rate(8, 40.0) == 320.0
    # 1.2 G tokens for $480 -> 2.5 M tokens per dollar; 0.9 G kept -> 1.875 M.
    assert tokens_per_dollar(1.2e9, 480.0) == 2.5e6
    assert goodput_tokens_per_dollar(0.9e9, 480.0) == 1.875e6
    assert tokens_per_dollar(1e6, 0.0) == 0.0


def test_default_rate_is_the_catalog_on_demand_price() -> None:
    r = resolve_rate(PricingConfig(), "trn1.32xlarge")
    assert r.per_hour == PRICE_BY_TYPE["trn1.32xlarge"].usd_per_hour
    assert r.basis == "on_demand" and r.currency == "USD" and r.family == "trn1"
    assert resolve_rate(PricingConfig(), "trn2u.48xlarge").placeholder
    assert not resolve_rate(PricingConfig(), "trn2.48xlarge").placeholder


def test_discounts_overrides_and_capacity_blocks() -> None:
    p = PricingConfig(discount=0.25, discounts={"trn1.32xlarge": 0.5},
                      on_demand={"trn2.48xlarge": 40.0},
                      capacity_block={"trn2u.48xlarge": 30.0})
    assert resolve_rate(p, "trn2.48xlarge").per_hour == 30.0  # 40 x (1 - 0.25)
    assert resolve_rate(p, "trn2.48xlarge").basis == "discounted"
    assert resolve_rate(p, "trn1.32xlarge").per_hour == 21.5 * 0.5
    cb = resolve_rate(p, "trn2u.48xlarge")
    assert cb.per_hour == 30.0 and cb.basis == "capacity_block"  # no discount on top
    rates = node_rates(p)
    assert rates.shape == (len(INSTANCE_TYPES),)
    assert rates[[t.name for t in INSTANCE_TYPES].index("trn2u.48xlarge")] == 30.0


def test_other_currency_needs_every_price() -> None:
    p = PricingConfig(currency="EUR", on_demand={"trn2.48xlarge": 36.0})
    assert resolve_rate(p, "trn2.48xlarge").currency == "EUR"
    with pytest.raises(ConfigError, match=r"currency is EUR but trn2u\.48xlarge"):
        resolve_rates(p)
    # A fleet of trn2.48xlarge nodes only needs that one price.
    assert resolve_rates(p, only=["trn2.48xlarge"])["trn2.48xlarge"].per_hour == 36.0
    rates = node_rates(p, only=["trn2.48xlarge"])
    assert rates.tolist() == [36.0, 0.0, 0.0, 0.0]


def test_unknown_type_needs_an_on_demand_price() -> None:
    with pytest.raises(ConfigError, match="no on-demand price"):
        resolve_rates(PricingConfig(discounts={"trn3.48xlarge": 0.1}))
    rates = resolve_rates(PricingConfig(on_demand={"trn3.48xlarge": 60.0}))
    assert rates["trn3.48xlarge"].per_hour == 60.0


@pytest.mark.parametrize(("toml", "message"), [
    ({"discount": 1.0}, "pricing.discount"),
    ({"discounts": {"trn2.48xlarge": -0.5}}, "discounts.trn2.48xlarge"),
    ({"on_demand": {"trn2.48xlarge": 0}}, "on_demand.trn2.48xlarge"),
    ({"capacity_block": {"not a type": 3.0}}, "not an instance type"),
    ({"currency": "dollars"}, "pricing.currency"),
    ({"surprise": 1}, "pricing.surprise"),
])
def test_bad_pricing_is_one_line(toml: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(preset_name="tiny", overrides={"pricing": toml}, environ={})
    text = str(exc.value)
    assert "\n" not in text and message in text and text.startswith("config error:")


def test_family_of() -> None:
    assert [family_of(n) for n in ("trn2.48xlarge", "trn2u.48xlarge", "trn1n.32xlarge",
                                   "inf2.48xlarge")] == ["trn2", "trn2", "trn1", "inf2"]
    assert FAMILIES == ("trn2", "trn1", "inf2")


def test_capacity_ledger_prices_node_seconds_by_family_and_state() -> None:
    fam = np.array([0, 0, 0, 1, 1, 2])  # trn2 x3, trn1 x2, inf2
    rate = np.array([40.0, 40.0, 40.0, 20.0, 20.0, 12.0])
    st = np.array([CapacityState.PRODUCTIVE, CapacityState.CHECKPOINT_RESTART,
                   CapacityState.UNHEALTHY, CapacityState.PRODUCTIVE,
                   CapacityState.UNALLOCATED, CapacityState.PRODUCTIVE])
    share = np.array([1.0, 0.0, 0.0, 0.75, 0.0, 0.25])
    led = CapacityLedger()
    led.accrue(fam, rate, st, share, 1800.0)
    led.accrue(fam, rate, st, share, 1800.0)  # one hour in two steps
    P, Idle, C, U, H = (int(s) for s in CapacityState)  # noqa: N806
    assert led.dollars[0, P] == 40.0 and led.dollars[0, C] == 40.0
    assert led.dollars[0, H] == 40.0 and led.dollars[0, Idle] == 0.0
    assert led.dollars[1, P] == 15.0 and led.dollars[1, Idle] == 5.0 and led.dollars[1, U] == 20.0
    assert led.dollars[2, P] == 3.0 and led.dollars[2, Idle] == 9.0
    assert led.node_seconds[1, P] == 2700.0 and led.node_seconds[1, Idle] == 900.0
    assert led.total() == 172.0 == float(rate.sum())  # every node-hour is counted once
    assert led.share(CapacityState.IDLE) == 14.0 / 172.0
    burn = led.burn_rate(fam, rate, st, share)
    np.testing.assert_array_equal(burn, led.dollars)  # one hour of accrual = $/h now
    rows = led.rows()
    assert len(rows) == 15 and rows[0] == ("trn2", "productive", 40.0, 3600.0)


def test_config_check_resolves_prices(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    bad = tmp_path / "eur.toml"
    bad.write_text('preset = "ohio"\n[pricing]\ncurrency = "EUR"\n'
                   'on_demand = {"trn2.48xlarge" = 33.0}\n')
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "currency is EUR" in err[0]
    good = tmp_path / "us.toml"
    good.write_text('preset = "ultraserver"\n[pricing]\ncurrency = "EUR"\n'
                    'capacity_block = {"trn2u.48xlarge" = 30.0}\n')
    assert main(["config", "check", str(good)]) == 0
