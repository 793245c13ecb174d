"""WATCHDOG=1 flows only while both the tick thread and the HTTP event loop are alive."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

from tests.conftest import preset_config
from trnmon.api.history import HistoryBuffer
from trnmon.daemon.notify import Notifier
from trnmon.daemon.runner import EngineRunner
from trnmon.daemon.watchdog import watchdog_loop
from trnmon.sim import Engine


class Pings:
    """Arrival times of WATCHDOG=1 datagrams on a real AF_UNIX socket."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.times: list[float] = []
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                if self.sock.recv(64) == b"WATCHDOG=1":
                    self.times.append(time.monotonic())
            except TimeoutError:
                continue

    def between(self, a: float, b: float) -> int:
        return sum(1 for t in self.times if a <= t <= b)

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


def test_watchdog_needs_both_loops(tmp_path: Path) -> None:
    pings = Pings(tmp_path / "notify")
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"})
    engine = Engine(preset_config("tiny", seed=1))
    runner = EngineRunner(engine, HistoryBuffer(engine.topo, node_window=10), notifier,
                          speed=20.0, checkpoint_path=None, checkpoint_interval_s=30)

    async def scenario() -> dict[str, tuple[float, float]]:
        runner.start()
        task = asyncio.create_task(watchdog_loop(notifier, runner))
        spans = {}
        t0 = time.monotonic()
        await asyncio.sleep(1.0)
        spans["both alive"] = (t0, time.monotonic())
        t0 = time.monotonic()
        time.sleep(1.5)  # the HTTP event loop is blocked; the tick thread keeps ticking
        spans["event loop blocked"] = (t0 + 0.1, time.monotonic())
        ticks = engine.tick
        await asyncio.sleep(0.5)
        assert engine.tick > ticks  # the engine really was alive during the block
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: runner.stop(final_checkpoint=False))
        t0 = time.monotonic()
        await asyncio.sleep(1.5)  # the event loop runs; the tick thread is gone
        spans["engine stopped"] = (t0 + 0.5, time.monotonic())  # after its heartbeat aged
        task.cancel()
        return spans

    try:
        spans = asyncio.run(scenario())
    finally:
        pings.close()
        notifier.close()
    assert pings.between(*spans["both alive"]) >= 3
    assert pings.between(*spans["event loop blocked"]) == 0
    assert pings.between(*spans["engine stopped"]) == 0
