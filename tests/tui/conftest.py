"""TUI fixtures: a fake source, an app whose frames the test delivers, and a helper that
waits for a condition instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.tui.fakes import FakeSource
from trnmon.tui.app import NeuronTopApp
from trnmon.tui.messages import SummaryReady
from trnmon.tui.settings import Settings


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
