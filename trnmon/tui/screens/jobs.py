"""The Jobs view: every running and queued job; the highlighted job's chips light up."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable

from trnmon.api.models import HEAT_METRICS
from trnmon.tui.messages import Frame
from trnmon.tui.screens.base import DataScreen
from trnmon.tui.screens.fleet import node_chip_mask
from trnmon.tui.text import count_text, util_style
from trnmon.tui.widgets.heatmap import HeatmapView
from trnmon.tui.widgets.keyed_table import Cell, Column, KeyedTable, num

COLUMNS = (Column("id", "ID", 6), Column("name", "NAME", 20), Column("kind", "TYPE", 10),
           Column("model", "MODEL", 13), Column("state", "STATE", 9),
           Column("place", "PLACEMENT", 24), Column("step", "STEP", 8),
           Column("tps", "TOKENS/S", 9), Column("mfu", "MFU", 5), Column("prog", "DONE", 5),
           Column("ett", "ETT", 5),  # effective training time: productive / allocated
           Column("rate", "$/H", 7), Column("cost", "COST", 8), Column("tpd", "TOK/$", 7))
STATE_STYLE = {"running": "green", "queued": "dim", "stalled": "yellow", "failed": "red"}


class JobsScreen(DataScreen):
    VIEW = "jobs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "cycle_metric", "Metric"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("enter", "open_job", "Open node", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="jobs-body"):
            yield KeyedTable(COLUMNS, sort_by="id", id="jobs-table")
            yield HeatmapView(id="heatmap")
        yield from self.compose_footer()

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#jobs-table", KeyedTable)

    def draw(self, frame: Frame) -> None:
        s = frame.summary
        if s is None:
            return
        rows: dict[str, tuple[Cell, ...]] = {}
        for j in s.jobs:
            first = j.instance_ids[0] if j.instance_ids else "-"
            place = f"{first} +{len(j.nodes) - 1}" if len(j.nodes) > 1 else first
            cells = (
                num(j.job_id, str(j.job_id)), Cell(j.name, sort=j.name),
                Cell(j.kind, sort=j.kind), Cell(j.model, sort=j.model),
                Cell(j.state, STATE_STYLE.get(j.state, "yellow"), sort=j.state),
                Cell(place, sort=len(j.nodes)), num(j.step_seconds, f"{j.step_seconds:.2f}s"),
                num(j.tokens_per_second, count_text(j.tokens_per_second)),
                num(j.mfu, f"{j.mfu:.0%}", util_style(j.mfu)),
                num(j.progress, f"{j.progress:.0%}"),
                num(j.effective_training_time, f"{j.effective_training_time:.0%}"),
                num(j.cost_per_hour, count_text(j.cost_per_hour)),
                num(j.cost_dollars, count_text(j.cost_dollars)),
                num(j.tokens_per_dollar, count_text(j.tokens_per_dollar)))
            if self.matches(str(j.job_id), j.name, j.kind, j.model, j.state, *j.instance_ids):
                rows[str(j.job_id)] = cells
        for q in s.queued:
            cells = (num(q.job_id, str(q.job_id)), Cell(f"{q.kind}-{q.job_id}", sort=""),
                     Cell(q.kind, sort=q.kind), Cell(q.model, sort=q.model),
                     Cell("queued", "dim", sort="queued"),
                     Cell(f"wants {q.nodes} nodes", "dim", sort=q.nodes), num(0, "-"),
                     num(0, "-"), num(0, "-"), num(0, "-"), num(0, "-"), num(0, "-"),
                     num(0, "-"), num(0, "-"))
            if self.matches(str(q.job_id), q.kind, q.model, "queued"):
                rows[str(q.job_id)] = cells
        self.table.sync(rows)
        self.table.border_title = f"jobs ({len(s.jobs)} running, {len(s.queued)} queued)"
        hm = self.query_one(HeatmapView)
        hm.set_heatmap(s.heatmap)
        hm.border_title = f"{hm.metric} · highlighted: the selected job's chips · m: metric"
        self._highlight()

    def _highlight(self) -> None:
        frame = self.neuron_app.frame
        key = self.table.cursor_key
        hm = self.query_one(HeatmapView)
        if frame is None or frame.summary is None or key is None:
            hm.set_highlight(None)
            return
        job = next((j for j in frame.summary.jobs if str(j.job_id) == key), None)
        hm.set_highlight(node_chip_mask(frame.summary, job.nodes if job else []))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._highlight()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_job()

    def action_open_job(self) -> None:
        frame = self.neuron_app.frame
        key = self.table.cursor_key
        if frame is None or frame.summary is None or key is None:
            return
        job = next((j for j in frame.summary.jobs if str(j.job_id) == key), None)
        if job is not None and job.instance_ids:
            self.neuron_app.open_node(job.instance_ids[0])

    def action_cycle_metric(self) -> None:
        hm = self.query_one(HeatmapView)
        hm.set_metric(HEAT_METRICS[(HEAT_METRICS.index(hm.metric) + 1) % len(HEAT_METRICS)])
        self.redraw()

    def action_cycle_sort(self) -> None:
        self.table.cycle_sort()
