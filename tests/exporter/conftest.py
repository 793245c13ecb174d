"""Fixtures for the exporter tests: small snapshots, built once per module."""

from __future__ import annotations

import pytest

from tests.exporter.fleets import tiny_engine
from trnmon.snapshot import FleetSnapshot


@pytest.fixture(scope="module")
def tiny_snap() -> FleetSnapshot:
    return FleetSnapshot.capture(tiny_engine())


@pytest.fixture(scope="module")
def idle_snap() -> FleetSnapshot:
    """No job anywhere: every node is idle."""
    return FleetSnapshot.capture(tiny_engine(workload={"initial_fill": 0.0}))


@pytest.fixture(scope="module")
def faulted_snap() -> FleetSnapshot:
    """Injected faults: a dead link, a lost node, a hung, failed and throttled chip."""
    eng = tiny_engine(ticks=2)
    eng.inject("link_down", chip=0)
    eng.inject("node_loss", node=2)
    eng.inject("chip_hang", chip=17)
    eng.inject("hbm_ecc_uncorrected", chip=18)
    eng.inject("thermal_throttle", chip=19)
    for _ in range(3):
        eng.step()
    return FleetSnapshot.capture(eng)
