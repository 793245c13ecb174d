"""Cost arithmetic: what an instance-hour costs, what a job has cost, what capacity costs.

Pure functions and two accumulators, no clock of their own:

- `resolve_rates` turns a fleet's `[pricing]` table (trnmon/config/model.py) and the price
  catalog (trnmon/hw/prices.py) into one effective rate per instance type;
- `job_cost`, `tokens_per_dollar` price a job: nodes x rate x seconds / 3600;
- `CapacityLedger` splits every node-second of a fleet by instance family and by state
  (productive, allocated but idle, waiting in checkpoints/restarts, unallocated,
  unhealthy) and prices it, as monotonically growing counters.

Every amount is in the pricing's currency (US dollars by default); float64 throughout, so
a counter of a 500,000-chip fleet stays exact to the cent for centuries of emulated time.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import numpy as np
import numpy.typing as npt

from trnmon.config.model import PricingConfig
from trnmon.errors import ConfigError
from trnmon.hw.catalog import INSTANCE_TYPES
from trnmon.hw.prices import CURRENCY as CATALOG_CURRENCY
from trnmon.hw.prices import PRICE_BY_TYPE

SECONDS_PER_HOUR = 3600.0
F64 = npt.NDArray[np.float64]
Basis = Literal["on_demand", "discounted", "capacity_block"]


def family_of(instance_type: str) -> str:
    """The instance family a type belongs to: trn2u.48xlarge -> trn2, trn1n -> trn1."""
    m = re.match(r"^([a-z]+\d+)", instance_type)
    return m.group(1) if m else instance_type.split(".")[0]


FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(family_of(t.name) for t in INSTANCE_TYPES))


@dataclass(frozen=True, slots=True)
class Rate:
    """The effective price of one instance-hour of one type, and how it was arrived at."""

    instance_type: str
    per_hour: float
    currency: str
    basis: Basis
    placeholder: bool  # the on-demand figure under it is a catalog placeholder

    @property
    def family(self) -> str:
        return family_of(self.instance_type)


def resolve_rate(pricing: PricingConfig, instance_type: str) -> Rate:
    """One type's effective rate: capacity block, else on-demand x (1 - discount).

    Raises ConfigError (one line) when the type has no price in the pricing's currency.
    """
    cb = pricing.capacity_block.get(instance_type)
    if cb is not None:
        return Rate(instance_type, cb, pricing.currency, "capacity_block", False)
    od = pricing.on_demand.get(instance_type)
    placeholder = False
    if od is None:
        listed = PRICE_BY_TYPE.get(instance_type)
        if listed is None:
            raise ConfigError(f"config error: pricing: no price for {instance_type} (not in "
                              f"the price catalog); set pricing.on_demand.\"{instance_type}\"")
        if pricing.currency != CATALOG_CURRENCY:
            raise ConfigError(f"config error: pricing: currency is {pricing.currency} but "
                              f"{instance_type} has only the catalog's {CATALOG_CURRENCY} "
                              f"price; set pricing.on_demand.\"{instance_type}\"")
        od, placeholder = listed.usd_per_hour, listed.placeholder
    discount = pricing.discounts.get(instance_type, pricing.discount)
    basis: Basis = "discounted" if discount > 0 else "on_demand"
    return Rate(instance_type, od * (1.0 - discount), pricing.currency, basis, placeholder)


def resolve_rates(pricing: PricingConfig,
                  only: Collection[str] | None = None) -> dict[str, Rate]:
    """Rates by name of every emulated instance type (trnmon/hw/catalog.py), or of `only`
    (the types a fleet has: a fleet in another currency prices just those).

    Overrides that name a type the catalog does not emulate are priced too (a fleet file
    may be shared with real hosts' tooling), but nothing here costs them.
    """
    emulated = [t.name for t in INSTANCE_TYPES]
    names = list(emulated if only is None else only)
    for table in (pricing.on_demand, pricing.capacity_block, pricing.discounts):
        names += [n for n in table if n not in names]
    out: dict[str, Rate] = {}
    for name in names:
        if name in PRICE_BY_TYPE or name in pricing.on_demand or name in pricing.capacity_block:
            out[name] = resolve_rate(pricing, name)
        elif name not in emulated:
            raise ConfigError(f"config error: pricing.discounts: {name} has no on-demand "
                              f"price to discount; set pricing.on_demand.\"{name}\"")
    return out


def node_rates(pricing: PricingConfig, only: Collection[str] | None = None) -> F64:
    """Per-hour rate per index of `INSTANCE_TYPES` (the topology's `node_type` codes);
    0 for types outside `only`."""
    rates = resolve_rates(pricing, only)
    return np.array([rates[t.name].per_hour if t.name in rates else 0.0
                     for t in INSTANCE_TYPES], dtype=np.float64)


# --- jobs --------------------------------------------------------------------------------
def job_cost(nodes: int, per_hour: float, seconds: float) -> float:
    """What `nodes` instances at `per_hour` cost for `seconds`."""
    return nodes * per_hour * seconds / SECONDS_PER_HOUR


def burn_rate(nodes: int, per_hour: float) -> float:
    """A job's cost per hour while it holds its nodes."""
    return nodes * per_hour


def tokens_per_dollar(tokens: float, dollars: float) -> float:
    """Tokens bought by one unit of currency (0 before anything was spent)."""
    return tokens / dollars if dollars > 0 else 0.0


def goodput_tokens_per_dollar(kept_tokens: float, dollars: float) -> float:
    """Tokens that survived (not rolled back by a restart) per unit of currency."""
    return tokens_per_dollar(kept_tokens, dollars)


# --- capacity ----------------------------------------------------------------------------
class CapacityState(IntEnum):
    """What a node's capacity is doing; every node-second is in exactly one state."""

    PRODUCTIVE = 0  # a job makes progress on it
    IDLE = 1  # allocated to a job that is not using it (a serving job below its peak)
    CHECKPOINT_RESTART = 2  # allocated, waiting in a checkpoint, a (re)load or a hang
    UNALLOCATED = 3  # healthy, no job
    UNHEALTHY = 4  # failed or lost, waiting for repair

    @property
    def label(self) -> str:
        return self.name.lower()


CAPACITY_STATES: tuple[CapacityState, ...] = tuple(CapacityState)


class CapacityLedger:
    """Cost and node-seconds of capacity by (family, state), as growing counters.

    Each node carries a family code (index into `families`) and a per-hour rate. On every
    step the caller says, per node, which state it is in and (for allocated running nodes)
    which share of it is productive; the rest of a running node counts as idle.
    """

    def __init__(self, families: tuple[str, ...] = FAMILIES) -> None:
        self.families = families
        shape = (len(families), len(CAPACITY_STATES))
        self.dollars = np.zeros(shape, dtype=np.float64)
        self.node_seconds = np.zeros(shape, dtype=np.float64)

    def accrue(self, node_family: npt.NDArray[np.integer], node_rate: F64,
               node_state: npt.NDArray[np.integer], productive_share: F64, dt: float) -> None:
        """Add `dt` seconds of every node. A node in PRODUCTIVE state splits into
        `productive_share` productive and the rest idle; other states take the whole node."""
        nf, ns = len(self.families), len(CAPACITY_STATES)
        share = np.where(node_state == CapacityState.PRODUCTIVE,
                         np.clip(productive_share, 0.0, 1.0), 1.0)
        idx_main = node_family.astype(np.int64) * ns + node_state.astype(np.int64)
        idx_idle = node_family.astype(np.int64) * ns + int(CapacityState.IDLE)
        for idx, weight in ((idx_main, share), (idx_idle, 1.0 - share)):
            secs = np.bincount(idx, weights=weight * dt, minlength=nf * ns)
            cost = np.bincount(idx, weights=weight * node_rate * (dt / SECONDS_PER_HOUR),
                               minlength=nf * ns)
            self.node_seconds += secs.reshape(nf, ns)
            self.dollars += cost.reshape(nf, ns)

    def burn_rate(self, node_family: npt.NDArray[np.integer], node_rate: F64,
                  node_state: npt.NDArray[np.integer], productive_share: F64) -> F64:
        """Cost per hour right now, by (family, state): what `accrue` adds per hour."""
        probe = CapacityLedger(self.families)
        probe.accrue(node_family, node_rate, node_state, productive_share, SECONDS_PER_HOUR)
        return probe.dollars

    def total(self) -> float:
        return float(self.dollars.sum())

    def share(self, *states: CapacityState) -> float:
        """The share of all spending that went to `states` (0 before any spending)."""
        total = self.total()
        part = float(self.dollars[:, [int(s) for s in states]].sum())
        return part / total if total > 0 else 0.0

    def rows(self) -> list[tuple[str, str, float, float]]:
        """(family, state, dollars, node-seconds) for every pair, in a stable order."""
        return [(fam, st.label, float(self.dollars[i, int(st)]),
                 float(self.node_seconds[i, int(st)]))
                for i, fam in enumerate(self.families) for st in CAPACITY_STATES]
