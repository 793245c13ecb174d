"""Daemon tests use real processes: the daemon, Prometheus (fixtures shared by tests/)."""

from tests.conftest_daemon import daemon_factory
from tests.conftest_prometheus import prometheus_factory

__all__ = ["daemon_factory", "prometheus_factory"]
