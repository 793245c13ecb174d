"""The Events view: active faults on top, then every event newest first."""

from __future__ import annotations

import time
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable

from trnmon.tui.messages import Frame, OpenNode
from trnmon.tui.screens.base import DataScreen
from trnmon.tui.text import SEVERITY_STYLE
from trnmon.tui.widgets.keyed_table import Cell, Column, KeyedTable, num

EVENT_COLUMNS = (Column("seq", "#", 6), Column("time", "TIME (UTC)", 10),
                 Column("sev", "SEVERITY", 9), Column("kind", "KIND", 20),
                 Column("where", "WHERE", 28), Column("text", "WHAT", 60))
FAULT_COLUMNS = (Column("id", "FAULT", 6), Column("kind", "KIND", 20),
                 Column("where", "WHERE", 34), Column("since", "SINCE", 10),
                 Column("until", "CLEARS", 10), Column("how", "ORIGIN", 9))


def hms(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(wall))


class EventsScreen(DataScreen):
    """Active faults, then the event log newest first; Enter opens the row's node."""

    VIEW = "events"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "cycle_sort", "Sort"),
        Binding("enter", "open_node", "Open node", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._row_nodes: dict[tuple[str, str], str] = {}  # (table id, row key) -> instance id

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="events-body"):
            yield KeyedTable(FAULT_COLUMNS, sort_by="id", reverse=True, id="fault-table")
            yield KeyedTable(EVENT_COLUMNS, sort_by="seq", reverse=True, id="event-table")
        yield from self.compose_footer()

    def draw(self, frame: Frame) -> None:
        s = frame.summary
        if s is None:
            return
        epoch = s.wall_time - s.t  # sim t -> the source's wall clock
        self._row_nodes = {}
        faults: dict[str, tuple[Cell, ...]] = {}
        for f in s.faults:
            where = f.instance_id + (f"/nd{f.device}" if f.device >= 0 else "")
            if f.port >= 0:
                where += f" port {f.port}"
            row = (num(f.fault_id, str(f.fault_id)), Cell(f.kind, "red", sort=f.kind),
                   Cell(where, sort=where), num(f.started_at, hms(epoch + f.started_at)),
                   num(f.clears_at or 0.0, hms(epoch + f.clears_at) if f.clears_at else "manual"),
                   Cell("injected" if f.injected else "random", sort=str(f.injected)))
            if self.matches(f.kind, where):
                faults[str(f.fault_id)] = row
                self._row_nodes[("fault-table", str(f.fault_id))] = f.instance_id
        ft = self.query_one("#fault-table", KeyedTable)
        ft.sync(faults)
        ft.border_title = f"active faults ({len(s.faults)})"
        events: dict[str, tuple[Cell, ...]] = {}
        for e in frame.events:
            where = e.instance_id + (f"/nd{e.device}" if e.device >= 0 else "")
            if e.job_id:
                where = (where + f" job {e.job_id}").strip()
            if not self.matches(e.kind, e.severity, where, e.text):
                continue
            if e.instance_id:
                self._row_nodes[("event-table", str(e.seq))] = e.instance_id
            events[str(e.seq)] = (
                num(e.seq, str(e.seq)), num(e.t, hms(epoch + e.t)),
                Cell(e.severity, SEVERITY_STYLE.get(e.severity, ""), sort=e.severity),
                Cell(e.kind, sort=e.kind), Cell(where or "fleet", sort=where),
                Cell(e.text, sort=e.text))
        et = self.query_one("#event-table", KeyedTable)
        et.sync(events)
        et.border_title = f"events, newest first ({len(events)})"

    def action_cycle_sort(self) -> None:
        self.query_one("#event-table", KeyedTable).cycle_sort()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_node()

    def action_open_node(self) -> None:
        """Enter on a fault or an event: the Node view of where it happened."""
        table = self.focused if isinstance(self.focused, KeyedTable) else None
        table = table or self.query_one("#event-table", KeyedTable)
        key = table.cursor_key
        node = self._row_nodes.get((table.id or "", key)) if key is not None else None
        if node:
            self.post_message(OpenNode(node))
