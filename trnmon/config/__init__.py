"""Fleet configuration: the model, named presets and the layered loader."""

from trnmon.config.load import load_config, read_toml, validate_config
from trnmon.config.model import (
    AvailabilityZone,
    FaultConfig,
    FleetConfig,
    NodeMix,
    PricingConfig,
    WorkloadConfig,
    WorkloadMix,
)
from trnmon.config.presets import DEFAULT_PRESET, PRESETS

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "AvailabilityZone",
    "FaultConfig",
    "FleetConfig",
    "NodeMix",
    "PricingConfig",
    "WorkloadConfig",
    "WorkloadMix",
    "load_config",
    "read_toml",
    "validate_config",
]
