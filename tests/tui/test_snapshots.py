"""Snapshot tests: every view at 80×24, 120×40 and 200×60, faults present, data-driven.

A seeded fleet, no threads, no real clock: the header shows the simulated clock and frames
are delivered by hand, so the SVGs are byte-stable across runs and machines. The faults
cover every health state the views draw: a failed chip (trn1), a hung chip (inf2), a down
and a degraded link (trn2u UltraServer) and a lost node. Regenerate after a reviewed change
with `pytest tests/tui/test_snapshots.py --snapshot-update`; the README's screenshots are
these files.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import DrivenApp, settle
from tests.tui.fakes import FakeSource
from trnmon.tui.screens.node import NodeScreen

SIZES = [(80, 24), (120, 40), (200, 60)]
# Node indexes in the tiny preset: 0-3 trn2u (one UltraServer), 4 trn1, 5 inf2.
NODE_OF_TYPE = {"trn2u": 0, "trn1": 4, "inf2": 5}


def make_app() -> DrivenApp:
    fake = FakeSource("tiny", seed=7, ticks=3)
    fake.engine.inject("link_down", chip=1, port=3)
    fake.engine.inject("link_degraded", chip=20, port=0)
    fake.engine.inject("hbm_ecc_uncorrected", chip=70)
    fake.engine.inject("chip_hang", chip=85)
    fake.engine.inject("node_loss", node=3)
    fake.advance(2)
    return DrivenApp(fake)


def app_of(pilot: Pilot[None]) -> DrivenApp:
    app = pilot.app
    assert isinstance(app, DrivenApp)
    return app


async def ready(pilot: Pilot[None]) -> None:
    app = app_of(pilot)
    await settle(pilot, lambda: app.frame is not None and app.frame.history is not None)


def node(kind: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        app = app_of(pilot)
        await ready(pilot)
        app.open_node(app.fake.engine.topo.instance_id(NODE_OF_TYPE[kind]))
        await settle(pilot, lambda: isinstance(app.screen, NodeScreen)
                     and app.frame is not None and app.frame.detail is not None
                     and app.frame.history is not None)
        app.fake.advance(1)  # a second detail, so link throughput is known
        await settle(pilot)
    return run


async def to_device(pilot: Pilot[None]) -> None:
    app = app_of(pilot)
    await node("trn1")(pilot)
    await pilot.press("down", "down", "down", "down", "down", "down", "enter")  # ND6: failed
    await settle(pilot, lambda: app.frame is not None and app.frame.history is not None
                 and "/nd" in app.frame.history.scope)


async def to_processes(pilot: Pilot[None]) -> None:
    await node("trn2u")(pilot)
    await pilot.press("P")
    await settle(pilot)


def keys(*pressed: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await pilot.press(*pressed)
        await settle(pilot)
    return run


VIEWS: dict[str, Callable[[Pilot[None]], Awaitable[None]]] = {
    "fleet": ready,
    "node-trn2u": node("trn2u"),
    "node-trn1": node("trn1"),
    "node-inf2": node("inf2"),
    "device": to_device,
    "jobs": keys("2"),
    "events": keys("3"),
    "processes": to_processes,
    "help": keys("question_mark"),
}


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("view", list(VIEWS))
def test_view(snap_compare: Callable[..., bool], view: str, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), run_before=VIEWS[view], terminal_size=size)
