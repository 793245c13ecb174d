"""The Fleet view: AZ → rack → UltraServer → node, with a heatmap of every chip.

One virtualised table shows either nodes or groups of them (`g` cycles the level); Enter
on a group drills into it (one level down, scoped to that group), Enter on a node opens the
Node view, Escape climbs back out. Rows are selected, grouped, filtered and sorted on
arrays (trnmon.tui.fleet_rows) and only the visible ones are formatted. The default order
is problems first: HEALTH descending ranks lost, failed, hung, degraded and throttled on
top, the busiest first among equals. The heatmap always shows the whole fleet and outlines
the highlighted row's chips.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical

from trnmon.api.models import HEAT_METRICS, FleetSummary, NodeRow
from trnmon.tui.fleet_rows import LEVELS, FleetArrays, FleetRows, fleet_rows
from trnmon.tui.messages import ChipClicked, Focus, Frame, OpenNode, SettingChanged
from trnmon.tui.screens.base import DataScreen
from trnmon.tui.text import (
    NA,
    bytes_text,
    celsius_text,
    health_style,
    mem_style,
    temp_style,
    util_style,
    watts_text,
)
from trnmon.tui.widgets.charts import HistoryStrip, Scale, pct, tdp_watts
from trnmon.tui.widgets.header import age_text
from trnmon.tui.widgets.heatmap import HeatmapView
from trnmon.tui.widgets.keyed_table import Cell, Column, num
from trnmon.tui.widgets.virtual_table import VirtualTable

# Vital signs first: on an 80-column terminal they stay visible, placement scrolls off.
# 80 columns: 19+5+5+8+5+11+8 plus padding and the scrollbar fill the 78 inside.
COLUMNS = (
    Column("name", "NAME", 19), Column("util", "UTIL", 5), Column("hbm", "HBM", 5),
    Column("power", "POWER", 8), Column("temp", "TEMP", 5), Column("health", "HEALTH", 11),
    Column("jobs", "JOBS", 8), Column("kind", "TYPE", 15), Column("where", "WHERE", 22),
)
NUMERIC = frozenset({"util", "hbm", "power", "temp", "health", "jobs"})
# Fleets up to this many nodes open on the node table; bigger ones open grouped by rack.
NODE_LEVEL_MAX = 400


def node_chip_mask(summary: FleetSummary, nodes: Sequence[int]) -> npt.NDArray[np.bool_]:
    """Chips of `nodes` in topology order (NodeRow.chips, cumulated, gives the offsets)."""
    counts = np.fromiter((r.chips for r in summary.nodes), dtype=np.int64,
                         count=len(summary.nodes))
    starts = np.concatenate(([0], np.cumsum(counts)))
    mask = np.zeros(int(starts[-1]), dtype=bool)
    for n in nodes:
        mask[starts[n]:starts[n + 1]] = True
    return mask


def chip_node(summary: FleetSummary, chip: int) -> NodeRow | None:
    """The node holding `chip` (topology order)."""
    counts = np.fromiter((r.chips for r in summary.nodes), dtype=np.int64,
                         count=len(summary.nodes))
    idx = int(np.searchsorted(np.cumsum(counts), chip, side="right"))
    return summary.nodes[idx] if idx < len(summary.nodes) else None


def dimmed(cell: Cell) -> Cell:
    """The same cell, dimmed: the source is unreachable, so this is old data."""
    text = cell.text.copy() if isinstance(cell.text, Text) else Text(cell.text, no_wrap=True,
                                                                         end="")
    text.stylize("dim")
    return Cell(text, "dim", sort=cell.sort)


class FleetScreen(DataScreen):
    """The fleet overview: a node or group table over a heatmap of every chip."""

    VIEW = "fleet"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "drill", "Open", show=False),
        Binding("g", "cycle_level", "Group"),
        Binding("m", "cycle_metric", "Metric"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.level: str | None = None  # chosen on the first frame, from the fleet's size
        self.scope: list[tuple[str, str]] = []  # (level, group) drilled into
        self._arrays: tuple[int, FleetArrays] | None = None  # (tick, arrays)
        self._rows: FleetRows | None = None
        self._lost_at: dict[str, float] = {}  # instance id -> sim t first seen lost
        self._tdp = (0, 0.0)
        self.drawn_sort: tuple[str, bool] | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="fleet-body"):
            yield VirtualTable(COLUMNS, sort_by="health", reverse=True, numeric=NUMERIC,
                               id="fleet-table")
            yield HistoryStrip(id="fleet-history")
            yield HeatmapView(id="heatmap")
        yield from self.compose_footer()

    def wanted_focus(self) -> Focus:
        return Focus(history="fleet")

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#fleet-table", VirtualTable)

    @property
    def heatmap(self) -> HeatmapView:
        return self.query_one(HeatmapView)

    # --- drawing -------------------------------------------------------------------------
    def arrays(self, s: FleetSummary) -> FleetArrays:
        """This summary's columns (built once per summary, reused by every key)."""
        if self._arrays is None or self._arrays[0] != id(s):
            self._arrays = (id(s), FleetArrays(s))
        return self._arrays[1]

    def draw(self, frame: Frame) -> None:
        s = frame.summary
        if s is None:
            return
        if self.level is None:
            self._restore(frame)
            if self.level is None:
                self.level = "node" if len(s.nodes) <= NODE_LEVEL_MAX else "rack"
        a = self.arrays(s)
        # A lost node's last data ages from the tick it was first seen down.
        lost = set(a.iid[~a.up].tolist())
        for iid in lost:
            self._lost_at.setdefault(iid, s.t)
        for iid in [k for k in self._lost_at if k not in lost]:
            del self._lost_at[iid]
        t = self.table
        rows = fleet_rows(a, self.level, self.scope, self.filter_text, t.sort_by, t.reverse)
        self._rows = rows
        self.drawn_sort = (t.sort_by, t.reverse)  # what the rows on screen are ordered by
        stale = not frame.status.connected

        def cells(i: int) -> tuple[Cell, ...]:
            row = (self._node_cells(a, int(rows.node_idx[i]), s.t) if rows.level == "node"
                   else self._group_cells(rows, i, a.region if rows.level == "az" else str(
                       a.keys["az"][int(rows.node_idx[i])])))
            return tuple(dimmed(c) for c in row) if stale else row

        t.set_rows(rows.keys, cells)
        if frame.history is not None and frame.history.scope == "fleet":
            if self._tdp[0] != a.n:
                self._tdp = (a.n, sum(tdp_watts(k) for k in a.kind.tolist()))
            self.query_one(HistoryStrip).show(frame.history, {
                "utilization": Scale(0.0, 1.0, pct),
                "power_watts": Scale(0.0, self._tdp[1], watts_text),
                "hbm_used_bytes": Scale(0.0, s.totals.hbm_total_bytes, bytes_text)})
        hm = self.heatmap
        hm.set_heatmap(s.heatmap)
        self._highlight_cursor()
        where = " › ".join(g for _, g in self.scope) or "all"
        count = rows.us_count if self.level == "ultraserver" else len(rows)
        t.border_title = f"{self.level}s in {where} ({count})"
        hm.border_title = (f"{hm.metric} · {s.heatmap.chips:,} chips · "
                           f"{hm.chips_per_cell} chip(s)/cell · m: metric")

    def _node_cells(self, a: FleetArrays, n: int, now: float) -> tuple[Cell, ...]:
        iid = str(a.iid[n])
        kind, where, rack = str(a.kind[n]), str(a.where[n]), str(a.keys["rack"][n])
        jobs = str(a.jobs_text[n])
        lost_at = self._lost_at.get(iid)
        if lost_at is not None:  # no fresh data: "–" and the age of the last, dimmed
            return (Cell(iid, "dim", sort=iid), num(-1, NA, "dim"), num(-1, NA, "dim"),
                    num(-1, NA, "dim"), num(-1, NA, "dim"),
                    Cell(f"lost {age_text(now - lost_at)}", "bold red",
                         sort=float(a.score[n])),
                    Cell(jobs, "dim", sort=int(a.job_count[n])),
                    Cell(kind, "dim", sort=kind), Cell(where, "dim", sort=rack))
        util, hbm, temp = float(a.util[n]), float(a.hbm_ratio[n]), float(a.temp[n])
        health = str(a.health[n])
        bad = int(a.unhealthy[n])
        return (
            Cell(iid, sort=iid),
            num(util, f"{util:.0%}", util_style(util)),
            num(hbm, f"{hbm:.0%}", mem_style(hbm)),
            num(float(a.power[n]), watts_text(float(a.power[n]))),
            num(temp, celsius_text(temp), temp_style(temp)),
            Cell(health + (f" ({bad})" if bad else ""), health_style(health),
                 sort=float(a.score[n])),
            Cell(jobs, "" if a.job_count[n] else "dim", sort=int(a.job_count[n])),
            Cell(kind, sort=kind),
            Cell(where, sort=rack),
        )

    def _group_cells(self, r: FleetRows, i: int, parent: str) -> tuple[Cell, ...]:
        util, hbm, power, temp = (float(r.util[i]), float(r.hbm[i]), float(r.power[i]),
                                  float(r.temp[i]))
        bad, jobs, nodes = int(r.bad[i]), int(r.jobs[i]), int(r.nodes[i])
        return (
            Cell(str(r.names[i]), sort=r.keys[i]),
            num(util, f"{util:.0%}", util_style(util)),
            num(hbm, f"{hbm:.0%}", mem_style(hbm)),
            num(power, watts_text(power)),
            num(temp, celsius_text(temp), temp_style(temp)),
            Cell(f"{bad} bad chips" if bad else "healthy", "red" if bad else "green",
                 sort=float(r.score[i])),
            num(jobs, f"{jobs} jobs" if jobs else "idle"),
            num(nodes, f"{nodes} nodes"),
            Cell(parent, sort=parent),
        )

    def _highlight_cursor(self) -> None:
        frame, rows = self.frame, self._rows
        row = self.table.cursor_row
        if (frame is None or frame.summary is None or rows is None
                or not 0 <= row < len(rows)):
            self.heatmap.set_highlight(None)
            return
        nodes = np.nonzero(rows.members == row)[0]
        self.heatmap.set_highlight(node_chip_mask(frame.summary, nodes.tolist()))

    def on_virtual_table_highlighted(self, event: VirtualTable.Highlighted) -> None:
        self._highlight_cursor()

    # --- actions -----------------------------------------------------------------------
    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        event.stop()
        self.action_drill()

    def on_virtual_table_sort_changed(self, event: VirtualTable.SortChanged) -> None:
        self.post_message(SettingChanged("sort", self.table.sort_by))
        self.post_message(SettingChanged("reverse", self.table.reverse))
        self.redraw()

    def action_drill(self) -> None:
        key = self.table.cursor_key
        if key is None or self.level is None:
            return
        if self.level == "node":
            self.post_message(OpenNode(key))
            return
        self.scope.append((self.level, key))
        self.level = LEVELS[LEVELS.index(self.level) + 1]
        self.redraw()

    def go_back(self) -> None:
        if self.scope:
            self.level, key = self.scope.pop()
            self.redraw()
            self.table.move_to(key)

    def action_cycle_level(self) -> None:
        self.scope.clear()
        self.level = LEVELS[(LEVELS.index(self.level or "node") + 1) % len(LEVELS)]
        self.post_message(SettingChanged("grouping", self.level))
        self.redraw()

    def action_cycle_metric(self) -> None:
        hm = self.heatmap
        hm.metric = HEAT_METRICS[(HEAT_METRICS.index(hm.metric) + 1) % len(HEAT_METRICS)]
        self.post_message(SettingChanged("metric", hm.metric))
        self.redraw()

    def action_cycle_sort(self) -> None:
        self.table.cycle_sort()

    def action_reverse_sort(self) -> None:
        self.table.set_sort(self.table.sort_by, reverse=not self.table.reverse)

    def _restore(self, frame: Frame) -> None:
        """The persisted grouping, sort and heatmap metric, on the first frame."""
        st = frame.settings
        if st is None:
            return
        if st.grouping in LEVELS:
            self.level = st.grouping
        if st.metric in HEAT_METRICS:
            self.heatmap.metric = st.metric
        if st.sort in {c.key for c in COLUMNS}:
            t = self.table
            t.sort_by, t.reverse = st.sort, st.reverse

    def on_chip_clicked(self, event: ChipClicked) -> None:
        frame = self.frame
        if frame is not None and frame.summary is not None:
            row = chip_node(frame.summary, event.chip)
            if row is not None:
                self.post_message(OpenNode(row.instance_id))
