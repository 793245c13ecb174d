"""The price catalog: on-demand $/instance-hour for the instance types trnmon emulates.

Prices are configuration, not hardware: a fleet overrides them in its `[pricing]` table
(trnmon/config/model.py: a reserved-instance or savings-plan discount, capacity-block
rates, another currency), and the cost arithmetic (trnmon/sim/cost.py) only ever reads the
resolved rate. This module holds the defaults: Linux on-demand list prices in us-east-2
(Ohio), in US dollars, each with where it comes from and when it was read.

`status` says how far to trust a row:

- ``published``: read from an AWS page (the source names it);
- ``quoted``: AWS's list price as a dated third-party page quotes it, because AWS's own
  pricing page could not be read when the row was written (check it before relying on it);
- ``placeholder``: no published figure was found; the value is only plausible.

AWS prices trn1.32xlarge the same in us-east-1 and us-east-2; none of the sources below
names a region, so every row is region-unverified as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PriceStatus = Literal["published", "quoted", "placeholder"]
REGION = "us-east-2"
CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class ListPrice:
    """One instance type's on-demand hourly price in `REGION`, with its provenance."""

    instance_type: str
    usd_per_hour: float
    status: PriceStatus
    source: str
    as_of: str  # ISO date the source was read or last updated

    @property
    def placeholder(self) -> bool:
        return self.status == "placeholder"


_USAGE_AI = ("https://www.usage.ai/blogs/aws/ai-ml-cost/trainium-vs-gpu-instances/ "
             "(updated 2026-06-25): \"trn1.32xlarge at $21.50/hr\" on-demand")
_STACKPULSAR = ("https://stackpulsar.com/blog/aws-trainium-inferentia/: \"trn2.48xlarge ... "
                "~$38.47/hour\" (\"on-demand pricing as of Q2 2026\"; the same page misstates "
                "Trainium2's HBM, so the figure is not trusted)")

PRICES: tuple[ListPrice, ...] = (
    # Trn2 is sold on demand in us-east-2 and as Capacity Blocks ("The trn2.48xlarge
    # instances are available in the US East (Ohio) Region", EC2 User Guide, Capacity
    # Blocks for ML); no AWS page with its hourly price was reachable.
    ListPrice("trn2.48xlarge", 38.47, "placeholder", _STACKPULSAR, "2026-11-30"),
    # trn2u.48xlarge is the UltraServer member; AWS sells it in whole UltraServers. No
    # separate price was found, so it defaults to the trn2.48xlarge figure.
    ListPrice("trn2u.48xlarge", 38.47, "placeholder",
              "no published price; the trn2.48xlarge placeholder", "2026-11-30"),
    ListPrice("trn1.32xlarge", 21.50, "quoted", _USAGE_AI, "2026-06-25"),
    # Not in the hardware catalog (trnmon/hw/catalog.py); priced so that a fleet that
    # names it can be costed.
    ListPrice("trn1n.32xlarge", 24.78, "placeholder",
              "no source found; a plausible value above trn1.32xlarge", "2026-11-30"),
    ListPrice("inf2.48xlarge", 12.98, "placeholder", "no source found", "2026-11-30"),
)
PRICE_BY_TYPE: dict[str, ListPrice] = {p.instance_type: p for p in PRICES}


def list_price(instance_type: str) -> ListPrice:
    """The catalog row of one instance type (KeyError if it has none)."""
    return PRICE_BY_TYPE[instance_type]


def markdown_table() -> str:
    """The README's price table (tests keep the two equal)."""
    out = [f"| instance type | on-demand {CURRENCY}/h ({REGION}) | status | as of |",
           "|---|---|---|---|"]
    for p in PRICES:
        out.append(f"| `{p.instance_type}` | {p.usd_per_hour:.2f} | {p.status} | {p.as_of} |")
    return "\n".join(out)
