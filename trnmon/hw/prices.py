"""The price catalog: on-demand $/instance-hour for the instance types trnmon emulates.

Prices are configuration, not hardware: a fleet overrides them in its `[pricing]` table
(trnmon/config/model.py: a reserved-instance or savings-plan discount, capacity-block
rates, another currency), and the cost arithmetic (trnmon/sim/cost.py) only ever reads the
resolved rate. This module holds the defaults: Linux on-demand list prices in us-east-2
(Ohio), in US dollars, each with where it comes from and when it was read.

`status` says how far to trust a row:

- ``published``: read from an AWS page (the source names it);
- ``quoted``: AWS's list price as a dated secondary source quotes it, because AWS's own
  pricing pages could not be read when the row was written (check before relying on it);
- ``placeholder``: no published figure was found; the value is only plausible.

`quoted_region` is the region the source gives when it is not REGION. Every row below
was found quoted for us-east-2 itself (an instance table generated from the AWS Price List
by instances.vantage.sh, vendored in a public repository); no AWS pricing page could be
read where this catalog was written, so none is ``published``. Retrieved 2026-11-30.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PriceStatus = Literal["published", "quoted", "placeholder"]
REGION = "us-east-2"
CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class ListPrice:
    """One instance type's on-demand hourly price for `REGION`, with its provenance."""

    instance_type: str
    usd_per_hour: float
    status: PriceStatus
    source: str
    as_of: str  # ISO date (or month) of the source
    quoted_region: str = ""  # the region the source quotes, when it is not REGION

    @property
    def placeholder(self) -> bool:
        return self.status == "placeholder"


# https://github.com/tsaol/aws-gpu (data/<family>_instances.js: "Auto-generated from
# instances.vantage.sh data", per region {"onDemand": $/h Linux, "reserved": ...}).
_VANTAGE = ("secondary: https://github.com/tsaol/aws-gpu/blob/{commit}/data/{file} "
            "(\"Auto-generated from instances.vantage.sh data\", last updated {date}): "
            "us-east-2 onDemand {price}; retrieved 2026-11-30")
# Later versions of the trn2 file (2025-12-21 on) carry no price at all; this is the last
# one that has one. AWS's us-east-1 figure is quoted elsewhere as 35.7608 ("Instance Prices
# (On-Demand, us-east-1, as of Feb 2026)", a public LLMPerf report script).
_TRN2 = _VANTAGE.format(commit="871b0becaa82609b296a1fd806124f584be002f0",
                        file="trn2_instances.js", date="2025-11-30", price="35.76") + (
    "; us-east-1 quoted as 35.7608 (a public LLMPerf report script, Feb 2026)")
_LATEST = "7412fd256c5eda04a70a17742a68e8e44824b2cb"  # 2026-01-21

PRICES: tuple[ListPrice, ...] = (
    # Trn2 is sold on demand and as Capacity Blocks in us-east-2 ("The trn2.48xlarge
    # instances are available in the US East (Ohio) Region", EC2 User Guide, Capacity
    # Blocks for ML).
    ListPrice("trn2.48xlarge", 35.76, "quoted", _TRN2, "2025-11-30"),
    # The UltraServer member is sold in whole UltraServers (Capacity Blocks); no price
    # of its own was found, so it defaults to the trn2.48xlarge figure.
    ListPrice("trn2u.48xlarge", 35.76, "placeholder",
              "no published price; the trn2.48xlarge figure", "2026-11-30"),
    ListPrice("trn1.32xlarge", 21.50, "quoted",
              _VANTAGE.format(commit=_LATEST, file="trn1_instances.js", date="2026-01-21",
                              price="21.5"), "2026-01-21"),
    # Not in the hardware catalog (trnmon/hw/catalog.py); priced so that a fleet that
    # names it can be costed.
    ListPrice("trn1n.32xlarge", 24.78, "quoted",
              _VANTAGE.format(commit=_LATEST, file="trn1n_instances.js", date="2026-01-21",
                              price="24.78"), "2026-01-21"),
    ListPrice("inf2.48xlarge", 12.98127, "quoted",
              _VANTAGE.format(commit=_LATEST, file="inf2_instances.js", date="2026-01-21",
                              price="12.98127"), "2026-01-21"),
)
PRICE_BY_TYPE: dict[str, ListPrice] = {p.instance_type: p for p in PRICES}


def list_price(instance_type: str) -> ListPrice:
    """The catalog row of one instance type (KeyError if it has none)."""
    return PRICE_BY_TYPE[instance_type]


def markdown_table() -> str:
    """The README's price table (tests keep the two equal)."""
    out = [f"| instance type | on-demand {CURRENCY}/h ({REGION}) | status | quoted for | "
           "as of |", "|---|---|---|---|---|"]
    for p in PRICES:
        where = "-" if p.placeholder else (p.quoted_region or REGION)
        out.append(f"| `{p.instance_type}` | {p.usd_per_hour} | {p.status} | {where} | "
                   f"{p.as_of} |")
    return "\n".join(out)
