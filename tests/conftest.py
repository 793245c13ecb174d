"""Shared fixtures: configs and topologies for the presets, built once per session."""

from __future__ import annotations

import pytest

from trnmon.config import FleetConfig, load_config
from trnmon.topology import Topology, build_topology


def preset_config(name: str, **overrides: object) -> FleetConfig:
    return load_config(preset_name=name, environ={}, overrides=overrides)


@pytest.fixture(scope="session")
def tiny_config() -> FleetConfig:
    return preset_config("tiny", seed=7)


@pytest.fixture(scope="session")
def tiny_topology(tiny_config: FleetConfig) -> Topology:
    return build_topology(tiny_config)


@pytest.fixture(scope="session")
def ohio_topology() -> Topology:
    return build_topology(preset_config("ohio"))
