"""neuron-monitor tests: hand-written reports, emulated engines, a real Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import preset_config
from tests.conftest_prometheus import prometheus_factory
from trnmon.neuron_monitor.config import MonitorConfig
from trnmon.neuron_monitor.emulated import topology_identity
from trnmon.neuron_monitor.report import ReportBuilder
from trnmon.sim import Engine

FIXTURES = Path(__file__).with_name("fixtures")
__all__ = ["prometheus_factory"]


def fixture_line(name: str) -> str:
    """A hand-written report (pretty-printed on disk) as one neuron-monitor line."""
    return json.dumps(json.loads((FIXTURES / f"{name}.json").read_text()))


def engine(**overrides: object) -> Engine:
    return Engine(preset_config("tiny", seed=7, **overrides))


def builder(eng: Engine, node: int, config: MonitorConfig | None = None) -> ReportBuilder:
    return ReportBuilder(config or MonitorConfig.default(), topology_identity(eng.topo, node))


@pytest.fixture
def tiny_engine() -> Engine:
    return engine()
