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

`quoted_region` is the region the source gives. The secondary sources found quote
us-east-1; their figures are used for us-east-2 on the assumption (not verified) that
AWS prices these families alike in both regions.
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


# A public repository's price module ("Hourly on-demand list, us-east-1, Linux, shared
# tenancy ... Checked entry by entry against the public AWS Price List (AmazonEC2 ...
# us-east-1 offer files, version 20260924211011)"), found with the code search this
# project's helpers use; its repository name was not shown.
_PRICE_LIST_MODULE = ("secondary: a public price table checked against AWS Price List "
                      "offer file AmazonEC2 us-east-1 version 20260924211011")
_USAGE_AI = ("secondary: https://www.usage.ai/blogs/aws/ai-ml-cost/trainium-vs-gpu-instances/ "
             "(updated 2026-06-25): \"trn1.32xlarge at $21.50/hr\" on-demand")
_LLMPERF_REPORT = ("secondary: a public LLMPerf report script, \"Instance Prices (On-Demand, "
                   "us-east-1, as of Feb 2026)\": trn2.48xlarge 35.7608")

PRICES: tuple[ListPrice, ...] = (
    # Trn2 is sold on demand and as Capacity Blocks in us-east-2 ("The trn2.48xlarge
    # instances are available in the US East (Ohio) Region", EC2 User Guide, Capacity
    # Blocks for ML).
    ListPrice("trn2.48xlarge", 35.7608, "quoted", _LLMPERF_REPORT, "2026-02",
              "us-east-1"),
    # The UltraServer member is sold in whole UltraServers (Capacity Blocks); no price
    # of its own was found, so it defaults to the trn2.48xlarge figure.
    ListPrice("trn2u.48xlarge", 35.7608, "placeholder",
              "no published price; the trn2.48xlarge figure", "2026-11-30"),
    ListPrice("trn1.32xlarge", 21.50, "quoted", f"{_PRICE_LIST_MODULE}; {_USAGE_AI}",
              "2026-09-24", "us-east-1"),
    # Not in the hardware catalog (trnmon/hw/catalog.py); priced so that a fleet that
    # names it can be costed.
    ListPrice("trn1n.32xlarge", 24.78, "quoted", _PRICE_LIST_MODULE, "2026-09-24",
              "us-east-1"),
    ListPrice("inf2.48xlarge", 12.98127, "quoted", _PRICE_LIST_MODULE, "2026-09-24",
              "us-east-1"),
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
