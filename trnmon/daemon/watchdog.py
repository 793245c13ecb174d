"""The systemd watchdog: WATCHDOG=1 only while both the tick loop and the HTTP loop live.

The ping is sent from a task on the HTTP event loop, and only if the engine thread's
heartbeat (stamped on every pass of its loop, paused or not) is younger than the
watchdog timeout. A blocked event loop sends nothing because the task cannot run; a stuck
or dead engine thread sends nothing because its heartbeat ages. Either way systemd
restarts the service after `WatchdogSec`.
"""

from __future__ import annotations

import asyncio
import time

from trnmon.daemon.notify import Notifier
from trnmon.daemon.runner import EngineRunner


def engine_alive(runner: EngineRunner, max_age_s: float, now: float | None = None) -> bool:
    """The tick thread runs, has not crashed, and passed through its loop recently."""
    now = time.monotonic() if now is None else now
    return runner.alive and runner.crashed is None and now - runner.heartbeat < max_age_s


async def watchdog_loop(notifier: Notifier, runner: EngineRunner) -> None:
    """Run until cancelled; a no-op unless systemd asked for a watchdog."""
    interval = notifier.watchdog_interval  # half of WATCHDOG_USEC
    if interval is None:
        return
    max_age = 2 * interval  # the whole watchdog timeout
    while True:
        if engine_alive(runner, max_age):
            notifier.watchdog()
        await asyncio.sleep(min(interval / 2, 1.0))
