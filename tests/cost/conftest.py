"""Cost tests that run a real daemon (the shared daemon fixture)."""

from tests.conftest_daemon import daemon_factory

__all__ = ["daemon_factory"]
