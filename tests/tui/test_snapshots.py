"""Snapshot tests: every view at 80×24 and 160×50, seeded fleet, no threads, no real clock.

The header shows the simulated clock (never the local one) and frames are delivered by
hand, so the SVGs are byte-stable across runs and machines. Regenerate after a reviewed
change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import DrivenApp, settle
from tests.tui.fakes import FakeSource

SIZES = [(80, 24), (160, 50)]


def make_app() -> DrivenApp:
    fake = FakeSource("tiny", seed=7, ticks=3)
    fake.engine.inject("link_down", chip=1, port=3)
    fake.advance(2)
    return DrivenApp(fake)


async def ready(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, DrivenApp)
    await settle(pilot, lambda: app.frame is not None)


async def to_node(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, DrivenApp)
    await ready(pilot)
    await pilot.press("enter")
    await settle(pilot, lambda: app.frame is not None and app.frame.detail is not None)
    app.fake.advance(1)  # a second detail, so link throughput is known
    await settle(pilot)


async def to_device(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, DrivenApp)
    await to_node(pilot)
    await pilot.press("down", "enter")
    await settle(pilot, lambda: app.frame is not None and app.frame.history is not None
                 and "/nd" in app.frame.history.scope)


def keys_then_ready(*keys: str) -> Callable[[Pilot[None]], object]:
    async def run(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await pilot.press(*keys)
        await settle(pilot)
    return run


VIEWS = {
    "fleet": ready,
    "node": to_node,
    "device": to_device,
    "jobs": keys_then_ready("2"),
    "events": keys_then_ready("3"),
}


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("view", list(VIEWS))
def test_view(snap_compare: Callable[..., bool], view: str, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), run_before=VIEWS[view], terminal_size=size)
