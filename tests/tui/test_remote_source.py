"""neuron-top attached to a real daemon: push stream, detail on demand, reconnect."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest_daemon import daemon_factory
from trnmon.sources.remote import RemoteSource
from trnmon.tui.app import NeuronTopApp
from trnmon.tui.widgets.header import FleetHeader

pytestmark = pytest.mark.slow  # starts a real daemon

__all__ = ["daemon_factory"]


def wait(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        time.sleep(0.05)


def test_remote_source_streams_and_fetches(daemon_factory: Any) -> None:
    d = daemon_factory("--speed", "5")
    src = RemoteSource(d.url)
    src.start()
    try:
        wait(lambda: src.latest() is not None)
        first = src.latest()
        assert first is not None and first.totals.chips == 92 and src.status.connected
        wait(lambda: (s := src.latest()) is not None and s.tick > first.tick)
        iid = first.nodes[0].instance_id
        detail = src.node_detail(iid)
        assert detail is not None and detail.instance_id == iid and len(detail.devices) == 16
        assert src.node_detail(0) is not None and src.node_detail(99) is None
        hist = src.history(iid)
        assert hist is not None and hist.scope == iid and hist.series["power_watts"]
        assert src.history("i-0nonexistent") is None
    finally:
        src.stop()


def test_reconnects_after_the_daemon_restarts(daemon_factory: Any, tmp_path: Any) -> None:
    d = daemon_factory("--speed", "5")
    app = NeuronTopApp(RemoteSource(d.url), interval=0.2)

    def header(a: NeuronTopApp) -> str:
        return str(a.screen.query_one(FleetHeader).render())

    async def until(pilot: Any, cond: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, header(app)
            await asyncio.sleep(0.1)
            await pilot.pause()

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: "chips 92" in header(app))
            assert f"daemon {d.url}" in header(app)
            port = d.port
            d.kill()
            await until(pilot, lambda: "unreachable" in header(app))
            assert "reconnecting in" in header(app) and "chips 92" in header(app)
            again = daemon_factory("--speed", "5", "--listen", f"127.0.0.1:{port}",
                                   state_dir=tmp_path / "state2")
            assert again.port == port
            await until(pilot, lambda: "unreachable" not in header(app), timeout=45)
            await pilot.press("q")

    asyncio.run(scenario())


def test_connect_once_and_bad_urls(daemon_factory: Any) -> None:
    d = daemon_factory()
    r = subprocess.run([sys.executable, "-m", "trnmon.cli.neuron_top", "--connect", d.url,
                        "--once"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "chips 92" in lines[0] and len(lines) == 2 + 6  # summary, column header, nodes
    assert "Traceback" not in r.stderr
    for url, needle in (("ftp://x", "not an http(s) URL"),):
        r = subprocess.run([sys.executable, "-m", "trnmon.cli.neuron_top", "--connect", url],
                           capture_output=True, text=True, timeout=60, check=False)
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "trnmon.cli.neuron_top", "--connect",
                        "http://127.0.0.1:9", "--once"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2 and "unreachable" in r.stderr


@pytest.fixture(autouse=True)
def _no_trnmon_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRNMON_URL", raising=False)
