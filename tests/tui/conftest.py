"""TUI fixtures: a fake source, an app whose frames the test delivers, and a helper that
waits for a condition instead of sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot

from tests.tui.fakes import FakeSource
from trnmon.tui.app import NeuronTopApp
from trnmon.tui.messages import SummaryReady
from trnmon.tui.settings import Settings
from trnmon.tui.widgets.keyed_table import KeyedTable
from trnmon.tui.widgets.virtual_table import VirtualTable


class DrivenApp(NeuronTopApp):
    """No threads: `deliver()` fetches the frame the visible screen wants, synchronously."""

    def __init__(self, source: FakeSource, settings: Settings | None = None) -> None:
        super().__init__(source, start_threads=False, settings=settings)
        self.fake = source

    def deliver(self) -> None:
        self.post_message(SummaryReady(self.poller.fetch(self.poller.focus)))

    def on_mount(self) -> None:
        super().on_mount()
        self.deliver()


async def settle(pilot: object, cond: Callable[[], bool] = lambda: True,
                 tries: int = 50) -> None:
    """Deliver the wanted frame and wait until `cond()` holds (bounded)."""
    app = pilot.app  # type: ignore[attr-defined]
    for _ in range(tries):
        app.deliver()
        await pilot.pause()  # type: ignore[attr-defined]
        if cond():
            await pilot.pause()  # type: ignore[attr-defined]
            return
    raise AssertionError("condition never held")


@pytest.fixture
def fake() -> FakeSource:
    return FakeSource("tiny", seed=7, ticks=3)


@pytest.fixture
def app(fake: FakeSource) -> DrivenApp:
    return DrivenApp(fake)


Scenario = Callable[[DrivenApp, Pilot[None]], Awaitable[None]]


def run(app: DrivenApp, scenario: Scenario, size: tuple[int, int] = (120, 40)) -> None:
    """Drive `app` headless at `size` through `scenario`, once its first frame is in."""
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot, lambda: app.frame is not None)
            await scenario(app, pilot)
    asyncio.run(main())


def table(app: DrivenApp, selector: str) -> KeyedTable:
    return app.screen.query_one(selector, KeyedTable)


def fleet_table(app: DrivenApp) -> VirtualTable:
    return app.screen.query_one("#fleet-table", VirtualTable)
