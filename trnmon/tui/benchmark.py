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
import threading
import time
from collections.abc import Callable
from functools import partial

from trnmon.api.models import FleetSummary, HistorySeries, NodeDetail
from trnmon.sources.base import FleetSource, SourceStatus
from trnmon.sources.embedded import EmbeddedSource
from trnmon.tui.app import NeuronTopApp
from trnmon.tui.messages import Focus, Frame, SummaryReady
from trnmon.tui.screens.fleet import FleetScreen
from trnmon.tui.screens.node import NodeScreen
from trnmon.tui.settings import Settings


def measure_refresh(source: EmbeddedSource, summaries: list[FleetSummary], *,
                    size: tuple[int, int] = (160, 50)) -> list[float]:
    """Milliseconds per summary, fleet view, no threads (the source is stepped beforehand)."""
    app = NeuronTopApp(source, start_threads=False, settings=Settings())
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
    app = NeuronTopApp(source, settings=Settings())
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


class ReplaySource(FleetSource):
    """Pre-built summaries published every `period` seconds (for tui.idle): the engine's
    own CPU stays out of the figure, which is the TUI's alone. Detail and history come
    from the (no longer stepped) embedded source."""

    def __init__(self, inner: EmbeddedSource, summaries: list[FleetSummary],
                 period: float = 1.0) -> None:
        super().__init__()
        self.inner, self.summaries, self.period = inner, summaries, period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="replay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            self._publish(self.summaries[i % len(self.summaries)])
            i += 1
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def node_detail(self, node: int | str) -> NodeDetail | None:
        return self.inner.node_detail(node)

    def history(self, scope: str) -> HistorySeries | None:
        return self.inner.history(scope)

    @property
    def status(self) -> SourceStatus:
        return SourceStatus(True, "replay")


def measure_idle(source: ReplaySource, *, seconds: float = 30.0,
                 size: tuple[int, int] = (160, 50)) -> float:
    """CPU time of the whole process over `seconds` of the default view at a 1 s refresh,
    as a percentage of one core (the replay thread only swaps a pointer each second)."""
    app = NeuronTopApp(source, interval=1.0, settings=Settings())
    result = 0.0

    async def run() -> None:
        nonlocal result
        async with app.run_test(size=size) as pilot:
            deadline = time.perf_counter() + 30
            while app.frames_applied < 2 and time.perf_counter() < deadline:
                await pilot.pause(0.05)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(seconds)
            result = (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100

    asyncio.run(run())
    return result


def _is(get: Callable[[], object], want: object) -> bool:
    return get() == want


def _moved(get: Callable[[], object], was: object) -> bool:
    return get() != was


KEY_ACTIONS = ("filter", "group", "sort", "open_node", "back")


def measure_keys(source: EmbeddedSource, *, repeat: int = 5,
                 size: tuple[int, int] = (160, 50)) -> dict[str, list[float]]:
    """Milliseconds from a keypress to the composited screen, per action, no threads.

    filter: one keystroke in the filter box; group: `g` (all four levels in turn); sort:
    `s`; open_node: Enter on a node row, including the poller's fetch of its detail and the
    frame that draws it; back: Escape from the Node view to the full fleet table."""
    app = NeuronTopApp(source, start_threads=False, settings=Settings())
    out: dict[str, list[float]] = {a: [] for a in KEY_ACTIONS}

    async def run() -> None:
        async with app.run_test(size=size) as pilot:
            def deliver() -> None:
                app.post_message(SummaryReady(app.poller.fetch(app.poller.focus)))

            async def timed(action: str, key: str, done: Callable[[], bool],
                            frame: bool = False) -> None:
                await pilot.pause()
                t0 = time.perf_counter()
                app.simulate_key(key)
                # The handlers do their work synchronously: once their effect shows, the
                # tables are diffed; what is left is the composite, done here at once.
                while not done():
                    await asyncio.sleep(0)
                if frame:  # the new view's data: fetched and drawn before the clock stops
                    n = app.frames_applied
                    deliver()
                    while app.frames_applied == n:
                        await asyncio.sleep(0)
                app.screen._on_timer_update()  # composite the pending screen update now
                out[action].append((time.perf_counter() - t0) * 1e3)

            def fleet() -> FleetScreen:
                screen = app.screen
                assert isinstance(screen, FleetScreen)
                return screen

            deliver()
            while app.frames_applied == 0:
                await asyncio.sleep(0.01)
            for _ in range(repeat):
                await pilot.press("slash")
                typed = ""
                for ch in "rack0":
                    typed += ch
                    await timed("filter", ch, partial(_is, lambda: fleet().filter_text, typed))
                await pilot.press("escape", "escape")
                for _ in range(4):
                    level = fleet().level
                    await timed("group", "g", partial(_moved, lambda: fleet().level, level))
                # Done when the rows on screen are ordered by the new column.
                sort = fleet().drawn_sort
                await timed("sort", "s", partial(_moved, lambda: fleet().drawn_sort, sort))
            while fleet().level != "node":
                await pilot.press("g")
            for _ in range(repeat):
                await timed("open_node", "enter", lambda: isinstance(app.screen, NodeScreen),
                            frame=True)
                await timed("back", "escape", lambda: isinstance(app.screen, FleetScreen))
                await pilot.press("down")  # the next node next time

    asyncio.run(run())
    return out
