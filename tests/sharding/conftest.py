"""Sharding tests start real daemons and real Prometheus servers (fixtures from tests/)."""

from tests.conftest_daemon import daemon_factory
from tests.conftest_prometheus import prometheus_factory

__all__ = ["daemon_factory", "prometheus_factory"]
