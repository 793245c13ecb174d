"""Pilot tests: drill-down and back, views, filter, sort, pause, reconnect status, help."""

from __future__ import annotations

from textual.pilot import Pilot

from tests.tui.conftest import DrivenApp, fleet_table, run, settle, table
from tests.tui.fakes import FakeSource
from trnmon.tui.screens.device import DeviceScreen
from trnmon.tui.screens.events import EventsScreen
from trnmon.tui.screens.fleet import FleetScreen
from trnmon.tui.screens.help import HelpScreen
from trnmon.tui.screens.jobs import JobsScreen
from trnmon.tui.screens.node import NodeScreen
from trnmon.tui.widgets.header import FleetHeader
from trnmon.tui.widgets.heatmap import HeatmapView


def test_fleet_lists_every_node(app: DrivenApp, fake: FakeSource) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        assert isinstance(app.screen, FleetScreen)
        assert fleet_table(app).row_count == len(fake.engine.topo.instance_ids)
        header = str(app.screen.query_one(FleetHeader).render())
        assert "chips 92" in header and "fake tiny" in header
        assert app.screen.query_one(HeatmapView).chips == 92
    run(app, scenario)


def test_drill_down_to_device_and_back(app: DrivenApp, fake: FakeSource) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        first = fleet_table(app).cursor_key
        await pilot.press("enter")
        assert isinstance(app.screen, NodeScreen) and app.screen.instance_id == first
        await settle(pilot, lambda: app.frame is not None and app.frame.detail is not None
                     and table(app, "#device-table").row_count > 0)
        assert app.poller.focus.node == first
        await pilot.press("down", "enter")
        assert isinstance(app.screen, DeviceScreen) and app.screen.device == 1
        await settle(pilot, lambda: app.frame is not None and app.frame.history is not None
                     and app.frame.history.scope == f"{first}/nd1")
        assert table(app, "#link-table").row_count >= 2
        await pilot.press("escape")
        assert isinstance(app.screen, NodeScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)
        assert app.poller.focus.node is None  # the fleet view asks for no detail
    run(app, scenario)


def test_group_levels_drill_and_climb(app: DrivenApp) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, FleetScreen) and screen.level == "node"
        await pilot.press("g")  # node -> az
        assert screen.level == "az" and fleet_table(app).row_count == 1
        await pilot.press("enter")  # into the AZ: its racks
        assert screen.level == "rack" and screen.scope == [("az", "us-east-2a")]
        assert fleet_table(app).row_count == 3
        await pilot.press("escape")
        assert screen.level == "az" and not screen.scope
    run(app, scenario)


def test_filter_narrows_and_escape_clears(app: DrivenApp) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        await pilot.press("slash", *"inf2")
        await pilot.pause()
        assert fleet_table(app).row_count == 1
        await pilot.press("enter")  # keeps the filter, closes the box
        assert fleet_table(app).row_count == 1
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert fleet_table(app).row_count == 6
    run(app, scenario)


def test_sort_by_column_and_reverse(app: DrivenApp) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        t = fleet_table(app)
        t.set_sort("power", reverse=True)
        await pilot.pause()
        powers = [t.get_row_at(i)[3].sort for i in range(t.row_count)]
        assert powers == sorted(powers, reverse=True)
        await pilot.press("S")
        powers = [t.get_row_at(i)[3].sort for i in range(t.row_count)]
        assert powers == sorted(powers)
        await pilot.press("s")
        assert t.sort_by == "temp"
    run(app, scenario)


def test_pause_holds_the_screen(app: DrivenApp, fake: FakeSource) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        assert app.frame is not None and app.frame.summary is not None
        tick = app.frame.summary.tick
        await pilot.press("p")
        assert app.paused and app.poller.paused
        fake.advance(2)
        app.deliver()
        await pilot.pause()
        assert app.frame.summary is not None and app.frame.summary.tick == tick
        assert "PAUSED" in str(app.screen.query_one(FleetHeader).render())
        await pilot.press("p")
        await settle(pilot, lambda: app.frame is not None and app.frame.summary is not None
                     and app.frame.summary.tick == tick + 2)
    run(app, scenario)


def test_refresh_interval_keys(app: DrivenApp) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        await pilot.press("plus")
        assert app.poller.interval == 0.5
        await pilot.press("minus", "minus")
        assert app.poller.interval == 2.0
    run(app, scenario)


def test_views_jobs_highlight_and_events(app: DrivenApp, fake: FakeSource) -> None:
    fake.engine.inject("chip_hang", chip=3)
    fake.advance(1)

    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        assert isinstance(app.screen, JobsScreen)
        await settle(pilot, lambda: table(app, "#jobs-table").row_count > 0)
        hm = app.screen.query_one(HeatmapView)
        assert hm._highlight is not None and 0 < int(hm._highlight.sum()) < 92
        await pilot.press("3")
        assert isinstance(app.screen, EventsScreen)
        await settle(pilot, lambda: table(app, "#fault-table").row_count == 1)
        assert table(app, "#event-table").row_count >= 1
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, EventsScreen)
    run(app, scenario)


def test_disconnected_source_shows_in_header(app: DrivenApp, fake: FakeSource) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        fake.connected = False
        await settle(pilot, lambda: "retrying" in str(app.screen.query_one(
            FleetHeader).render()))
        fake.connected = True
        await settle(pilot, lambda: "retrying" not in str(app.screen.query_one(
            FleetHeader).render()))
    run(app, scenario)


def test_metric_cycles_and_compact_class() -> None:
    app = DrivenApp(FakeSource("tiny", seed=7, ticks=3))

    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        hm = app.screen.query_one(HeatmapView)
        await pilot.press("m")
        assert hm.metric == "hbm"
        await pilot.press("m", "m", "m")
        assert hm.metric == "utilization"
        assert app.screen.has_class("compact")
    run(app, scenario, size=(80, 24))


def test_clicking_a_heatmap_tile_opens_its_node(app: DrivenApp, fake: FakeSource) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        hm = app.screen.query_one(HeatmapView)
        # Every chip's tile maps back to that chip, and a gap or the margin to none.
        side, per_row = hm._side, hm._per_row

        def centre(chip: int) -> tuple[int, int]:
            mid = (side - 1) // 2  # the middle of the tile, clear of its gap
            return (chip % per_row) * side + mid, ((chip // per_row) * side + mid) // 2

        for chip in (0, 17, 70, 91):
            assert hm.cell_chip(*centre(chip)) == chip, (chip, side, per_row)
        assert hm.cell_chip(hm.size.width + 1, 0) is None
        chip = 70  # device 6 of the trn1 node (nodes 0-3 are the UltraServer's 64 chips)
        await pilot.click(HeatmapView, offset=centre(chip))
        await settle(pilot, lambda: isinstance(app.screen, NodeScreen))
        assert isinstance(app.screen, NodeScreen)
        assert app.screen.instance_id == fake.engine.topo.instance_id(4)
    run(app, scenario)
