"""The fleet configuration: one pydantic model for everything an emulated fleet needs."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trnmon.config.daemon import DaemonConfig


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeMix(Section):
    """How many nodes of each kind an availability zone holds."""

    ultraservers: int = Field(0, ge=0, le=100_000)
    """Trn2 UltraServers, each 4 x trn2u.48xlarge (64 chips) in one rack."""
    trn2: int = Field(0, ge=0, le=100_000)
    """Standalone trn2.48xlarge nodes (16 chips), 2 per rack."""
    trn1: int = Field(0, ge=0, le=100_000)
    """trn1.32xlarge nodes (16 Trainium chips), 4 per rack."""
    inf2: int = Field(0, ge=0, le=100_000)
    """inf2.48xlarge nodes (12 Inferentia2 chips), 4 per rack."""


class AvailabilityZone(Section):
    """One availability zone: its names, datacenters, rack rows and node mix."""

    name: str = Field(pattern=r"^[a-z]{2}-[a-z]+-\d[a-z]$")
    """AZ name, e.g. us-east-2a."""
    zone_id: str = Field(pattern=r"^[a-z0-9]+-az\d+$")
    """AZ id, e.g. use2-az1 (stable across accounts)."""
    datacenters: int = Field(1, ge=1, le=64)
    racks_per_row: int = Field(8, ge=1, le=256)
    nodes: NodeMix = NodeMix()


class WorkloadMix(Section):
    """Relative weights of arriving job kinds."""

    pretrain: float = Field(0.3, ge=0)
    finetune: float = Field(0.2, ge=0)
    inference: float = Field(0.35, ge=0)
    batch_inference: float = Field(0.15, ge=0)


class Campaign(Section):
    """A long pretraining run on a scheduling cell of its own, the way frontier models are
    trained: one gang of whole UltraServers holds the cell for `days`, the cell's other
    UltraServers stay idle as its hot spares (a crashed run restarts at once on healthy
    ones), and no other job is placed there. Default: Llama 3 405B's run, 16,384 accelerators
    for 54 days and more (Llama 3 paper, Dubey et al. 2024)."""

    cell: int = Field(0, ge=0)
    """The global index of the scheduling cell it holds (`cell_racks` racks per cell)."""
    ultraservers: int = Field(256, ge=1, le=100_000)
    """Gang size in UltraServers (256 = 16,384 Trainium2 chips)."""
    model: str = "llama3.1-405b"
    """The model it trains (a name `trnmon estimate` knows)."""
    days: float = Field(365.0, gt=0, le=100_000)
    """Length of the run in simulated days. When it ends the cell stays empty: it is the
    campaign's for the whole emulation (default: longer than any soak)."""


class WorkloadConfig(Section):
    """How busy the fleet is: initial fill, arrivals, job lengths and the daily cycle."""

    initial_fill: float = Field(0.7, ge=0, le=1)
    """Fraction of Trainium capacity that jobs occupy at t=0."""
    target_allocation: float = Field(0.9, gt=0, le=1)
    """Share of each instance family's healthy nodes that arrivals keep allocated. Default:
    the 85-95% allocation busy production ML clusters run at (Llama 3 paper, Meta RSC
    reliability study, Kokolis et al. 2024)."""
    arrivals_per_hour: float | None = Field(None, ge=0, le=1e6)
    """A fixed arrival rate per hour per 1,000 chips instead of target allocation (a what-if
    or test knob; 0 = no arrivals). None (default): arrivals hold `target_allocation`."""
    mean_job_hours: float = Field(6.0, ge=0.01, le=10_000)
    """Mean duration of fine-tuning and batch-inference jobs in simulated hours (default:
    the hours-long median of GPU-cluster job traces, Philly ATC'19 and Helios SC'21)."""
    pretrain_hours: float = Field(48.0, ge=0.01, le=10_000)
    """Mean duration of a pretraining gang's allocation in hours (default: long runs are
    held as multi-day reservations, Llama 3's 54-day run in segments)."""
    service_hours: float = Field(12.0, ge=0.01, le=10_000)
    """Mean lifetime of an inference service deployment in hours (default: a deployment is
    replaced by a redeploy or rescale about twice a day; an assumption)."""
    max_job_share: float = Field(0.25, gt=0, le=1)
    """Largest job as a share of its family's nodes in its scheduling cell (default: the
    largest gangs in shared clusters take a minority of the machines, Meta RSC 2024)."""
    max_queue: int = Field(10_000, ge=1, le=10_000_000)
    """Queued jobs per scheduling cell beyond which new arrivals are rejected (counted)."""
    mix: WorkloadMix = WorkloadMix()
    mfu_min: float = Field(0.35, gt=0, le=1)
    mfu_max: float = Field(0.50, gt=0, le=1)
    checkpoint_interval_s: float = Field(1800.0, ge=1, le=1e7)
    diurnal_amplitude: float = Field(0.35, ge=0, le=1)
    """Inference request-rate swing over the day (0 = flat)."""
    campaigns: tuple[Campaign, ...] = ()
    """Pretraining campaigns, each holding a scheduling cell of its own (none by default;
    the ultracluster presets run one)."""

    @model_validator(mode="after")
    def _mfu_range(self) -> WorkloadConfig:
        if self.mfu_min > self.mfu_max:
            raise ValueError("mfu_min must not exceed mfu_max")
        cells = [c.cell for c in self.campaigns]
        if len(set(cells)) != len(cells):
            raise ValueError("campaigns: two campaigns hold the same cell")
        return self


class FaultConfig(Section):
    """Hardware failure rates and repair times."""

    enabled: bool = True
    rate_multiplier: float = Field(1.0, ge=0, le=1e6)
    """Scales every hardware failure rate (1.0 = Llama-3 rates per chip-day)."""
    correctable_ecc_per_chip_day: float = Field(2.0, ge=0, le=1e9)
    """Mean correctable ECC events per chip-day; per-chip rates are lognormal (heavy-tailed)."""
    repair_hours: float = Field(4.0, ge=0.01, le=10_000)
    """Mean time until a fault repaired in place clears (a hung chip, a downed link or EFA
    device, a cooling failure)."""
    replacement_hours: float = Field(4.0, ge=0.01, le=10_000)
    """Mean time from a hard failure (a chip out, a host lost) until its node, drained
    meanwhile, is back as a new instance. Placeholder: no published figure for EC2
    replacement times; the same mean as `repair_hours`."""


INSTANCE_TYPE_PATTERN = r"^[a-z][a-z0-9-]*\.[0-9]*[a-z]+$"


class PricingConfig(Section):
    """What the fleet's capacity costs (trnmon/hw/prices.py holds the on-demand defaults).

    An instance type's effective rate is its `capacity_block` rate if it has one (bought as
    EC2 Capacity Blocks: no further discount), else its on-demand rate (`on_demand`, else
    the catalog's us-east-2 list price) times (1 - its discount (`discounts`, else
    `discount`)).
    """

    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    """ISO 4217 code of every price here. The catalog's defaults are USD, so a fleet in
    another currency must price each of its instance types in `on_demand` or
    `capacity_block`. Metrics keep their `_dollars` names and carry this currency."""
    discount: float = Field(0.0, ge=0, lt=1)
    """Fraction off on-demand for every type: a reserved-instance or savings-plan rate
    (0.4 = 40 % off)."""
    discounts: dict[str, float] = Field(default_factory=dict, max_length=64)
    """Per-instance-type discounts that replace `discount`, e.g. {"trn2.48xlarge" = 0.3}."""
    on_demand: dict[str, float] = Field(default_factory=dict, max_length=64)
    """Per-instance-type on-demand $/instance-hour that replace the catalog's list price."""
    capacity_block: dict[str, float] = Field(default_factory=dict, max_length=64)
    """Per-instance-type Capacity Block $/instance-hour (the reservation's effective
    instance-hour rate); these types ignore on-demand and discounts."""

    @model_validator(mode="after")
    def _rates(self) -> PricingConfig:
        for table in ("discounts", "on_demand", "capacity_block"):
            for name, value in getattr(self, table).items():
                if not re.match(INSTANCE_TYPE_PATTERN, name):
                    raise ValueError(f"{table}: {name!r} is not an instance type name")
                if table == "discounts" and not 0 <= value < 1:
                    raise ValueError(f"discounts.{name} must be in [0, 1), got {value}")
                if table != "discounts" and not 0 < value <= 1e6:
                    raise ValueError(f"{table}.{name} must be a rate in (0, 1e6] per "
                                     f"instance-hour, got {value}")
        return self


class FleetConfig(Section):
    """A whole fleet: its shape (region, AZs, LNC), seed, workload, faults and tick."""

    name: str = Field("ohio", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    region: str = Field("us-east-2", pattern=r"^[a-z]{2}-[a-z]+-\d$")
    availability_zones: list[AvailabilityZone] = Field(min_length=1, max_length=32)
    lnc: Literal[1, 2] = 2
    """Logical NeuronCore config on Trn2 nodes (2 = 4 logical cores per chip)."""
    seed: int = Field(0, ge=0, le=2**63 - 1)
    tick_seconds: float = Field(1.0, ge=1e-3, le=3600)
    """Simulated seconds per tick (1 ms to 1 h)."""
    ambient_celsius: float = Field(24.0, ge=-20, le=60)
    cell_racks: int | None = Field(None, ge=1, le=1_000_000)
    """Racks per scheduling cell (None: the whole fleet is one cell). Jobs, arrivals, random
    faults and their random numbers are per cell, so `trnmon daemon --shard I/N` can run
    any contiguous run of cells alone on exactly the trajectory of the whole fleet."""
    workload: WorkloadConfig = WorkloadConfig()
    faults: FaultConfig = FaultConfig()
    pricing: PricingConfig = PricingConfig()
    """What capacity costs: currency, discounts, on-demand and Capacity Block rates."""
    daemon: DaemonConfig = DaemonConfig()
    """How `trnmon daemon` serves this fleet (ignored by other commands)."""

    @model_validator(mode="after")
    def _unique_zones(self) -> FleetConfig:
        names = [az.name for az in self.availability_zones]
        ids = [az.zone_id for az in self.availability_zones]
        if len(set(names)) != len(names) or len(set(ids)) != len(ids):
            raise ValueError("availability zone names and ids must be unique")
        if not any(
            az.nodes.ultraservers or az.nodes.trn2 or az.nodes.trn1 or az.nodes.inf2
            for az in self.availability_zones
        ):
            raise ValueError("the fleet has no nodes")
        return self
