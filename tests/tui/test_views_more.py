"""Fixed-scale charts, UltraServer counting, group job counts, `f` against the chip's peak,
and a lost node's stale row."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.pilot import Pilot

from tests.tui.conftest import DrivenApp, settle
from tests.tui.fakes import FakeSource
from trnmon.tui.screens.fleet import FleetScreen
from trnmon.tui.screens.node import NodeScreen
from trnmon.tui.widgets.charts import Scale, chart_line, pct, spark
from trnmon.tui.widgets.node_panels import CoreGrid
from trnmon.tui.widgets.virtual_table import VirtualTable


def run(app: DrivenApp, scenario: Callable[[DrivenApp, Pilot[None]], Awaitable[None]],
        size: tuple[int, int] = (120, 40)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot, lambda: app.frame is not None)
            await scenario(app, pilot)
    asyncio.run(main())


def test_sparklines_use_fixed_scales() -> None:
    assert spark([0.97] * 4, 0.0, 1.0, 4) == "████"  # a steady 97 % is tall, not ▁▁▁▁
    assert spark([0.0] * 4, 0.0, 1.0, 4) == "▁▁▁▁"
    assert spark([457.0, 457.0], 0.0, 500.0, 2) == "▇▇"  # 457 W of a 500 W TDP
    assert spark([0.5], 0.0, 1.0, 3) == "  ▅"  # right-aligned: newest at the right edge
    line = chart_line("util", [0.2, 0.9, 0.5], Scale(0.0, 1.0, pct), 60).plain
    assert "now 50%" in line and "min 20%" in line and "max 90%" in line and "0%–100%" in line


def test_ultraserver_grouping_counts_ultraservers_and_groups_count_jobs() -> None:
    app = DrivenApp(FakeSource("ohio", seed=7, ticks=3))

    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        t = screen.query_one("#fleet-table", VirtualTable)
        while screen.level != "ultraserver":
            await pilot.press("g")
        assert t.border_title is not None and t.border_title.endswith("(9)")  # ohio: 9
        assert t.row_count > 9  # plain racks are listed, not counted
        jobs = [str(t.get_row_at(i)[6].text) for i in range(t.row_count)]
        assert any(j.endswith("jobs") for j in jobs)  # group rows show their job counts
    run(app, scenario)


def test_f_scales_to_the_chips_peak_and_says_so(app: DrivenApp) -> None:
    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, NodeScreen)
                     and app.frame is not None and app.frame.detail is not None)
        grid = app.screen.query_one(CoreGrid)
        assert "Utilization" in str(grid.render())
        await pilot.press("f")
        await pilot.pause()
        title = str(grid.render()).splitlines()[0]
        assert "TFLOPS" in title and "peak per core" in title and "Utilization" not in title
    run(app, scenario)


def test_a_lost_node_shows_dashes_and_its_age() -> None:
    fake = FakeSource("tiny", seed=7, ticks=3)
    fake.engine.inject("node_loss", node=2)
    fake.advance(1)
    app = DrivenApp(fake)

    async def scenario(app: DrivenApp, pilot: Pilot[None]) -> None:
        t = app.screen.query_one("#fleet-table", VirtualTable)
        row = t.get_row_at(0)  # problems first: the lost node on top
        assert row[0].sort == fake.engine.topo.instance_id(2)
        assert [str(c.text) for c in row[1:5]] == ["–"] * 4
        fake.advance(3)
        await settle(pilot, lambda: str(t.get_row_at(0)[5].text) != "lost 0s")
        assert str(t.get_row_at(0)[5].text).startswith("lost ")
    run(app, scenario)
