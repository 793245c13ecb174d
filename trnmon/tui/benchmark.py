"""Headless measurements for `trnmon bench tui` (kept here: only trnmon.tui imports textual).

refresh: a new FleetSummary is posted as SummaryReady; the clock stops when the message has
been handled (tables diffed inside batch_update) and the screen's pending update has been
composited (the same synchronous flush Pilot uses), without Pilot's idle-detection sleeps,
which would time the harness rather than the UI. first_frame: App construction to the
first applied frame, with the source started by the app (engine build excluded: the source
is built beforehand, as the CLI does before the app starts).
"""

from __future__ import annotations

import asyncio
import statistics
import time

from trnmon.api.models import FleetSummary
from trnmon.sources.base import FleetSource
from trnmon.sources.embedded import EmbeddedSource
from trnmon.tui.app import NeuronTopApp
from trnmon.tui.messages import Focus, Frame, SummaryReady


def measure_refresh(source: EmbeddedSource, summaries: list[FleetSummary], *,
                    size: tuple[int, int] = (160, 50)) -> list[float]:
    """Milliseconds per summary, fleet view, no threads (the source is stepped beforehand)."""
    app = NeuronTopApp(source, start_threads=False)
    times: list[float] = []

    async def run() -> None:
        async with app.run_test(size=size) as pilot:
            for i, summary in enumerate(summaries):
                frame = Frame(summary=summary, status=source.status, focus=Focus())
                await pilot.pause()  # settle before timing
                t0 = time.perf_counter()
                app.post_message(SummaryReady(frame))
                while app.frames_applied <= i:
                    await asyncio.sleep(0)
                app.screen._on_timer_update()  # composite the pending screen update now
                times.append((time.perf_counter() - t0) * 1e3)

    asyncio.run(run())
    return times


def measure_first_frame(source: FleetSource, *, size: tuple[int, int] = (160, 50)) -> float:
    """Milliseconds from app start to the first frame applied (threads running)."""
    app = NeuronTopApp(source)
    elapsed = 0.0

    async def run() -> None:
        nonlocal elapsed
        t0 = time.perf_counter()
        async with app.run_test(size=size) as pilot:
            deadline = t0 + 30
            while app.frames_applied == 0 and time.perf_counter() < deadline:
                await pilot.pause(0.005)
            elapsed = (time.perf_counter() - t0) * 1e3

    asyncio.run(run())
    return elapsed


def summarize(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), max(times)
