"""Pilot tests of the Processes view: `P` from the Node view, for an emulated node and for
a real host read from neuron-monitor output (a multi-runtime fixture)."""

from __future__ import annotations

import asyncio
import io

from textual.pilot import Pilot

from tests.neuron_monitor.conftest import fixture_line
from tests.tui.conftest import DrivenApp, settle
from tests.tui.fakes import FakeSource
from trnmon.api.models import ProcessModel
from trnmon.sources.neuron_monitor import NeuronMonitorSource
from trnmon.tui.screens.node import NodeScreen
from trnmon.tui.screens.processes import ProcessesScreen, core_ranges
from trnmon.tui.widgets.keyed_table import KeyedTable


def cells(table: KeyedTable, key: str) -> list[str]:
    return [str(c.text) if not hasattr(c.text, "plain") else c.text.plain
            for c in table.get_row(key)]


def test_core_ranges() -> None:
    assert core_ranges([0, 1, 2, 3, 8, 9, 12]) == "0-3,8-9,12"
    assert core_ranges([]) == "-" and core_ranges([5]) == "5"


def test_processes_view_of_an_emulated_node(app: DrivenApp, fake: FakeSource) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await settle(pilot, lambda: app.frame is not None)
        iid = fake.engine.topo.instance_ids[3]
        app.open_node(iid)
        await settle(pilot, lambda: isinstance(app.screen, NodeScreen)
                     and app.frame is not None and app.frame.detail is not None)
        await pilot.press("P")
        assert isinstance(app.screen, ProcessesScreen) and app.screen.instance_id == iid
        table = app.screen.table
        await settle(pilot, lambda: table.row_count > 0)
        detail = fake.node_detail(iid)
        assert detail is not None and len(detail.processes) == table.row_count
        proc: ProcessModel = detail.processes[0]
        row = cells(table, str(proc.pid))
        assert row[0] == str(proc.pid) and row[1] == proc.runtime_tag
        assert row[2].endswith(f"({len(proc.neuroncores)})")
        assert row[-1] == proc.command and row[-2] == proc.runtime_version
        await pilot.press("escape")
        assert isinstance(app.screen, NodeScreen)

    async def main() -> None:
        async with app.run_test(size=(160, 40)) as pilot:
            await scenario(pilot)
    asyncio.run(main())


class HostApp(DrivenApp):
    """The driven app over a real-host source fed one neuron-monitor line."""


def test_processes_view_of_a_real_host() -> None:
    source = NeuronMonitorSource("-", stdin=io.BytesIO(b""))
    source.ingest.line(fixture_line("inf2_effective_flops"))
    assert source.ingest.summary is not None
    source._publish(source.ingest.summary)
    app = HostApp(source)  # type: ignore[arg-type]

    async def main() -> None:
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot, lambda: app.frame is not None)
            app.open_node("i-0a1b2c3d4e5f60718")
            await settle(pilot, lambda: app.frame is not None and app.frame.detail is not None)
            await pilot.press("P")
            assert isinstance(app.screen, ProcessesScreen)
            table = app.screen.table
            await settle(pilot, lambda: table.row_count == 3)
            bert = cells(table, "3101")
            assert bert[1] == "bert-serve" and bert[2] == "0-7 (8)" and bert[3] == "56%"
            assert bert[4] == "27.5 GiB"  # 8 cores x (3 GiB tensors + 452 MiB fixed)
            assert bert[6] == "4.0%/1.0%" and bert[-1] == "–"  # neuron-monitor has no command
            llama = cells(table, "3102")
            assert llama[2] == "8-19 (12)"
    asyncio.run(main())
