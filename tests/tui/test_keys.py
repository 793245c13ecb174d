"""Pilot tests for every key an operator expects, the header at 80 columns, problems-first
sorting and the stale marker."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.pilot import Pilot

from tests.tui.conftest import DrivenApp, Scenario, fleet_table, settle, table
from tests.tui.conftest import run as drive
from tests.tui.fakes import FakeSource
from trnmon.tui.screens.device import DeviceScreen
from trnmon.tui.screens.events import EventsScreen
from trnmon.tui.screens.fleet import FleetScreen
from trnmon.tui.screens.help import HelpScreen
from trnmon.tui.screens.node import NodeScreen
from trnmon.tui.widgets.header import FleetHeader
from trnmon.tui.widgets.keyed_table import KeyedTable


def run(app: DrivenApp, scenario: Scenario, size: tuple[int, int] = (80, 24)) -> None:
    drive(app, scenario, size)


def header_text(app: DrivenApp) -> str:
    return str(app.screen.query_one(FleetHeader).render())


def faulty() -> DrivenApp:
    fake = FakeSource("tiny", seed=7, ticks=3)
    fake.engine.inject("hbm_ecc_uncorrected", chip=70)  # the trn1 node (node 4)
    fake.engine.inject("link_degraded", chip=40, port=0)  # node 2
    fake.advance(1)
    return DrivenApp(fake)


async def to_node(app: DrivenApp, pilot: Pilot[None]) -> None:
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(app.screen, NodeScreen)
                 and table(app, "#device-table").row_count > 0)


def test_one_goes_to_the_fleet_from_node_and_device(app: DrivenApp) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        await to_node(app, pilot)
        await pilot.press("enter")
        assert isinstance(app.screen, DeviceScreen)
        await pilot.press("1")
        assert isinstance(app.screen, FleetScreen) and len(app.screen_stack) == 1
        await pilot.press("2", "1")
        assert isinstance(app.screen, FleetScreen)
    run(app, scenario)


def test_enter_on_an_event_and_on_a_job_opens_its_node() -> None:
    app = faulty()

    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        await pilot.press("3")
        await settle(pilot, lambda: table(app, "#fault-table").row_count == 2)
        ft = table(app, "#fault-table")
        ft.focus()
        await pilot.pause()
        key = ft.cursor_key
        fault = next(f for f in app.frame.summary.faults  # type: ignore[union-attr]
                     if str(f.fault_id) == key)
        await pilot.press("enter")
        assert isinstance(app.screen, NodeScreen)
        assert app.screen.instance_id == fault.instance_id
        await pilot.press("escape")
        assert isinstance(app.screen, EventsScreen)
        table(app, "#event-table").focus()
        await settle(pilot, lambda: table(app, "#event-table").row_count > 0)
        await pilot.press("enter")
        assert isinstance(app.screen, NodeScreen)
        await pilot.press("2")
        await settle(pilot, lambda: table(app, "#jobs-table").row_count > 0)
        key = table(app, "#jobs-table").cursor_key
        job = next(j for j in app.frame.summary.jobs  # type: ignore[union-attr]
                   if str(j.job_id) == key)
        await pilot.press("enter")
        assert isinstance(app.screen, NodeScreen)
        assert app.screen.instance_id == job.instance_ids[0]
    run(app, scenario, size=(120, 40))


def test_escape_clears_a_kept_filter_then_climbs(app: DrivenApp) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        await pilot.press("g")  # az level
        await pilot.press("enter")  # into the AZ: racks
        screen = app.screen
        assert isinstance(screen, FleetScreen) and screen.level == "rack"
        await pilot.press("slash", *"rack01", "enter")  # keep the filter
        assert fleet_table(app).row_count == 1
        assert "filter: rack01" in header_text(app)
        await pilot.press("escape")  # clears the filter, stays at this level
        assert screen.filter_text == "" and screen.level == "rack"
        assert fleet_table(app).row_count == 3
        await pilot.press("escape")  # climbs
        assert screen.level == "az"
    run(app, scenario)


def test_q_and_ctrl_c_quit(fake: FakeSource) -> None:
    for key in ("q", "ctrl+c"):
        app = DrivenApp(fake)

        async def scenario(app: DrivenApp, pilot: Pilot[None], key: str = key) -> None:
            await pilot.press(key)
            await pilot.pause()
            assert app._exit  # type: ignore[attr-defined]
        run(app, scenario)


def test_help_overlay_keeps_the_screen_live(app: DrivenApp, fake: FakeSource) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        fleet = app.screen
        assert isinstance(fleet, FleetScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        tick = fleet.frame.summary.tick  # type: ignore[union-attr]
        fake.advance(2)
        await settle(pilot, lambda: fleet.frame is not None and fleet.frame.summary is not None
                     and fleet.frame.summary.tick == tick + 2)
        await pilot.press("pagedown", "end", "home")
        await pilot.press("question_mark")
        assert app.screen is fleet
    run(app, scenario, size=(120, 40))


def test_page_keys_scroll_the_node_view_not_a_hidden_cursor(app: DrivenApp) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        await to_node(app, pilot)
        body = app.screen.query_one("#node-body", VerticalScroll)
        devices = table(app, "#device-table")
        assert body.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert body.scroll_y > 0 and devices.cursor_row == 0
        await pilot.press("end")
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y
        await pilot.press("home")
        await pilot.pause()
        assert body.scroll_y == 0
        last = min(12, devices.row_count - 1)  # an inf2 node has 12 devices
        await pilot.press(*["down"] * last)  # the cursor drags the page along
        await pilot.pause()
        assert devices.cursor_row == last and body.scroll_y > 0
        await pilot.press("pageup")
        await pilot.pause()
        assert devices.cursor_row == last
    run(app, scenario)


def test_page_keys_and_tab_in_tables() -> None:
    app = DrivenApp(FakeSource("ohio", seed=7, ticks=2))

    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        t = fleet_table(app)
        assert app.screen.focused is t
        await pilot.press("pagedown")
        assert t.cursor_row > 0
        await pilot.press("end")
        assert t.cursor_row == t.row_count - 1
        await pilot.press("home")
        assert t.cursor_row == 0
        await pilot.press("right", "right")  # at 80 columns TYPE and WHERE pan into view
        await pilot.pause()
        assert t.scroll_offset.x > 0 and "TYPE" in "".join(
            seg.text for seg in t.render_line(0))
        await pilot.press("left", "left")
        await pilot.pause()
        assert t.scroll_offset.x == 0
        await pilot.press("3")
        await settle(pilot, lambda: isinstance(app.screen, EventsScreen))
        first = app.screen.focused
        await pilot.press("tab")
        assert app.screen.focused is not first and isinstance(app.screen.focused, KeyedTable)
    run(app, scenario)


def test_problems_first_and_numeric_sort_descends_first() -> None:
    app = faulty()

    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        t = fleet_table(app)
        s = app.frame.summary  # type: ignore[union-attr]
        first = t.get_row_at(0)[0].sort
        bad = next(r for r in s.nodes if r.health == "failed")
        assert first == bad.instance_id  # the failed node is on top
        second = next(r for r in s.nodes if r.instance_id == t.get_row_at(1)[0].sort)
        assert second.health == "degraded"  # then the degraded one
        header = "".join(seg.text for seg in t.render_line(0))
        assert "▼HEALTH" in header  # the indicator leads, so it is never clipped
        t.set_sort("temp")
        await pilot.pause()
        temps = [t.get_row_at(i)[4].sort for i in range(t.row_count)]
        assert temps == sorted(temps, reverse=True)  # hottest on top
        t.set_sort("name")
        await pilot.pause()
        names = [t.get_row_at(i)[0].sort for i in range(t.row_count)]
        assert names == sorted(names)  # text ascends
    run(app, scenario)


def test_header_at_80_columns_wraps_and_keeps_paused_alerts_and_stale() -> None:
    app = faulty()

    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        await pilot.press("p")
        text = header_text(app)
        lines = text.split("\n")
        assert len(lines) == 2 and all(len(line) <= 78 for line in lines), lines
        for word in ("PAUSED", "alerts 2", "unhealthy", "util", "power", "nodes", "jobs"):
            assert word in text, text
        await pilot.press("p")
        app.fake.connected = False
        await settle(pilot, lambda: "STALE" in header_text(app))
        assert "STALE" in header_text(app)
    run(app, scenario)
