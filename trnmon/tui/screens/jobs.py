"""The Jobs view: every running and queued job; the highlighted job's chips light up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable

from trnmon.api.models import HEAT_METRICS, JobModel, QueuedJobModel
from trnmon.tui.messages import Frame, OpenNode
from trnmon.tui.screens.base import DataScreen
from trnmon.tui.screens.fleet import node_chip_mask
from trnmon.tui.text import count_text, util_style
from trnmon.tui.widgets.heatmap import HeatmapView
from trnmon.tui.widgets.keyed_table import Cell, Column, KeyedTable, num

STATE_STYLE = {"running": "green", "queued": "dim", "stalled": "yellow", "failed": "red"}


def latency_text(seconds: float, kind: str) -> str:
    """A serving latency in ms below 1 s, else in s; "-" for a training job."""
    if kind in ("pretrain", "finetune"):
        return "-"
    return f"{seconds:.2f}s" if seconds >= 1 else f"{seconds * 1e3:.1f}ms"


def placement(j: JobModel) -> str:
    first = j.instance_ids[0] if j.instance_ids else "-"
    return f"{first} +{len(j.nodes) - 1}" if len(j.nodes) > 1 else first


@dataclass(frozen=True, slots=True)
class JobColumn:
    """One Jobs column: its header, a running job's cell and a queued job's cell."""

    column: Column
    running: Callable[[JobModel], Cell]
    queued: Callable[[QueuedJobModel], Cell] = lambda q: num(0, "-")


# The Jobs table, one line per column (add a column here and nowhere else).
JOB_COLUMNS: tuple[JobColumn, ...] = (
    JobColumn(Column("id", "ID", 6), lambda j: num(j.job_id, str(j.job_id)),
              lambda q: num(q.job_id, str(q.job_id))),
    JobColumn(Column("name", "NAME", 20), lambda j: Cell(j.name, sort=j.name),
              lambda q: Cell(f"{q.kind}-{q.job_id}", sort="")),
    JobColumn(Column("kind", "TYPE", 15), lambda j: Cell(j.kind, sort=j.kind),
              lambda q: Cell(q.kind, sort=q.kind)),
    JobColumn(Column("model", "MODEL", 13), lambda j: Cell(j.model, sort=j.model),
              lambda q: Cell(q.model, sort=q.model)),
    JobColumn(Column("state", "STATE", 13),
              lambda j: Cell(j.state, STATE_STYLE.get(j.state, "yellow"), sort=j.state),
              lambda q: Cell("queued", "dim", sort="queued")),
    JobColumn(Column("place", "PLACEMENT", 24),
              lambda j: Cell(placement(j), sort=len(j.nodes)),
              lambda q: Cell(f"wants {q.nodes} nodes", "dim", sort=q.nodes)),
    JobColumn(Column("step", "STEP", 8), lambda j: num(j.step_seconds, f"{j.step_seconds:.2f}s")),
    JobColumn(Column("tps", "TOKENS/S", 9),
              lambda j: num(j.tokens_per_second, count_text(j.tokens_per_second))),
    JobColumn(Column("mfu", "MFU", 5), lambda j: num(j.mfu, f"{j.mfu:.0%}", util_style(j.mfu))),
    JobColumn(Column("prog", "DONE", 5), lambda j: num(j.progress, f"{j.progress:.0%}")),
    # effective training time: productive / allocated (issue 13's goodput)
    JobColumn(Column("ett", "ETT", 5), lambda j: num(j.effective_training_time,
                                                      f"{j.effective_training_time:.0%}")),
    # price-performance (issue 19): burn rate, cost so far, tokens per unit of cost
    JobColumn(Column("rate", "$/H", 7), lambda j: num(j.cost_per_hour,
                                                       count_text(j.cost_per_hour))),
    JobColumn(Column("cost", "COST", 8), lambda j: num(j.cost_dollars,
                                                        count_text(j.cost_dollars))),
    JobColumn(Column("tpd", "TOK/$", 7), lambda j: num(j.tokens_per_dollar,
                                                        count_text(j.tokens_per_dollar))),
    # serving latency (issue 14): time to first token and inter-token latency; "-" for
    # training jobs, which have neither
    JobColumn(Column("ttft", "TTFT", 7), lambda j: num(j.ttft_seconds, latency_text(
        j.ttft_seconds, j.kind))),
    JobColumn(Column("itl", "ITL", 7), lambda j: num(j.itl_seconds, latency_text(
        j.itl_seconds, j.kind))),
)
COLUMNS = tuple(c.column for c in JOB_COLUMNS)


class JobsScreen(DataScreen):
    """Every running and queued job; Enter opens the job's first node."""

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
            cells = tuple(c.running(j) for c in JOB_COLUMNS)
            if self.matches(str(j.job_id), j.name, j.kind, j.model, j.state, *j.instance_ids):
                rows[str(j.job_id)] = cells
        for q in s.queued:
            cells = tuple(c.queued(q) for c in JOB_COLUMNS)
            if self.matches(str(q.job_id), q.kind, q.model, "queued"):
                rows[str(q.job_id)] = cells
        self.table.sync(rows)
        self.table.border_title = f"jobs ({len(s.jobs)} running, {len(s.queued)} queued)"
        hm = self.query_one(HeatmapView)
        hm.set_heatmap(s.heatmap)
        hm.border_title = f"{hm.metric} · highlighted: the selected job's chips · m: metric"
        self._highlight()

    def _highlight(self) -> None:
        frame = self.frame
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
        frame = self.frame
        key = self.table.cursor_key
        if frame is None or frame.summary is None or key is None:
            return
        job = next((j for j in frame.summary.jobs if str(j.job_id) == key), None)
        if job is not None and job.instance_ids:
            self.post_message(OpenNode(job.instance_ids[0]))

    def action_cycle_metric(self) -> None:
        hm = self.query_one(HeatmapView)
        hm.metric = HEAT_METRICS[(HEAT_METRICS.index(hm.metric) + 1) % len(HEAT_METRICS)]
        self.redraw()

    def action_cycle_sort(self) -> None:
        self.table.cycle_sort()
