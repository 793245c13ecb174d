"""The Fleet view: AZ → rack → UltraServer → node, with a heatmap of every chip.

One keyed table shows either nodes or groups of them (`g` cycles the level); Enter on a
group drills into it (one level down, scoped to that group), Enter on a node opens the Node
view, Escape climbs back out. The heatmap dims every chip outside the highlighted row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable

from trnmon.api.models import HEAT_METRICS, FleetSummary, NodeRow
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
from trnmon.tui.widgets.keyed_table import Cell, Column, KeyedTable, num

LEVELS = ("az", "rack", "ultraserver", "node")
GROUP_OF: dict[str, Callable[[NodeRow], str]] = {
    "az": lambda r: r.location.availability_zone,
    "rack": lambda r: r.location.rack,
    "ultraserver": lambda r: r.location.ultraserver or f"{r.location.rack} (no UltraServer)",
    "node": lambda r: r.instance_id,
}
HEALTH_RANK = {"healthy": 0, "degraded": 1, "hung": 2, "failed": 3, "lost": 4, "down": 5}


def problem_score(health: str, throttled: int, utilization: float) -> float:
    """HEALTH's sort value: worse health, then throttled, then busier sorts higher."""
    return HEALTH_RANK.get(health, 1) * 10 + (5 if throttled else 0) + min(utilization, 1.0)
# Vital signs first: on an 80-column terminal they stay visible, placement scrolls off.
COLUMNS = (
    # 80 columns: 19+5+5+8+5+11+8 plus padding and the scrollbar fill the 78 inside.
    Column("name", "NAME", 19), Column("util", "UTIL", 5), Column("hbm", "HBM", 5),
    Column("power", "POWER", 8), Column("temp", "TEMP", 5), Column("health", "HEALTH", 11),
    Column("jobs", "JOBS", 8), Column("kind", "TYPE", 15), Column("where", "WHERE", 22),
)
# Fleets up to this many nodes open on the node table; bigger ones open grouped by rack.
NODE_LEVEL_MAX = 400


def dimmed(cell: Cell) -> Cell:
    """The same cell, dimmed: the source is unreachable, so this is old data."""
    text = cell.text.copy() if isinstance(cell.text, Text) else Text(cell.text, no_wrap=True,
                                                                         end="")
    text.stylize("dim")
    return Cell(text, "dim", sort=cell.sort)


def short_name(level: str, key: str) -> str:
    """A group's name without the region prefix the whole fleet shares (fits NAME)."""
    if level == "rack":
        return key.split("-", 2)[-1]  # use2-az1-dc1-row01-rack01 -> dc1-row01-rack01
    if level == "ultraserver" and " (no UltraServer)" in key:
        return key.replace(" (no UltraServer)", "").split("-", 2)[-1] + " (no US)"
    return key


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
    counts = np.fromiter((r.chips for r in summary.nodes), dtype=np.int64,
                         count=len(summary.nodes))
    idx = int(np.searchsorted(np.cumsum(counts), chip, side="right"))
    return summary.nodes[idx] if idx < len(summary.nodes) else None


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
        self._groups: dict[str, list[int]] = {}
        self._lost_at: dict[str, float] = {}  # instance id -> sim t first seen lost

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="fleet-body"):
            yield KeyedTable(COLUMNS, sort_by="health", reverse=True, id="fleet-table")
            yield HistoryStrip(id="fleet-history")
            yield HeatmapView(id="heatmap")
        yield from self.compose_footer()

    def wanted_focus(self) -> Focus:
        return Focus(history="fleet")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#fleet-table", KeyedTable)

    @property
    def heatmap(self) -> HeatmapView:
        return self.query_one(HeatmapView)

    # --- drawing -------------------------------------------------------------------------
    def draw(self, frame: Frame) -> None:
        s = frame.summary
        if s is None:
            return
        if self.level is None:
            self._restore(frame)
            if self.level is None:
                self.level = "node" if len(s.nodes) <= NODE_LEVEL_MAX else "rack"
        rows = [r for r in s.nodes if all(GROUP_OF[lv](r) == g for lv, g in self.scope)]
        # A lost node's last data ages from the tick it was first seen down.
        for r in s.nodes:
            if not r.up or r.health == "lost":
                self._lost_at.setdefault(r.instance_id, s.t)
            else:
                self._lost_at.pop(r.instance_id, None)
        stale = not frame.status.connected
        group = GROUP_OF[self.level]
        self._groups = {}
        for r in rows:
            self._groups.setdefault(group(r), []).append(r.node)
        by_node = s.nodes
        cells: dict[str, tuple[Cell, ...]] = {}
        for key, members in self._groups.items():
            if self.level == "node":
                r = by_node[members[0]]
                lost = self._lost_at.get(r.instance_id)
                row = self._node_cells(r, None if lost is None else s.t - lost)
            else:
                row = self._group_cells(key, [by_node[n] for n in members])
            if stale:
                row = tuple(dimmed(c) for c in row)
            if self.matches(*(str(c.text) for c in row)):
                cells[key] = row
        self.table.sync(cells)
        if frame.history is not None and frame.history.scope == "fleet":
            tdp = sum(tdp_watts(r.location.instance_type) for r in s.nodes)
            self.query_one(HistoryStrip).show(frame.history, {
                "utilization": Scale(0.0, 1.0, pct),
                "power_watts": Scale(0.0, tdp, watts_text),
                "hbm_used_bytes": Scale(0.0, s.totals.hbm_total_bytes, bytes_text)})
        hm = self.heatmap
        hm.set_heatmap(s.heatmap)
        self._highlight_cursor()
        where = " › ".join(g for _, g in self.scope) or "all"
        count = len(cells)
        if self.level == "ultraserver":  # racks without an UltraServer are not counted
            count = sum(1 for k in cells if by_node[self._groups[k][0]].location.ultraserver)
        self.table.border_title = f"{self.level}s in {where} ({count})"
        hm.border_title = (f"{hm.metric} · {s.heatmap.chips:,} chips · "
                           f"{hm.chips_per_cell} chip(s)/cell · m: metric")

    @staticmethod
    def _node_cells(r: NodeRow, lost_for: float | None = None) -> tuple[Cell, ...]:
        loc = r.location
        hbm = r.hbm_used_bytes / max(r.hbm_total_bytes, 1.0)
        health = r.health if r.up else "lost"
        if lost_for is not None:  # no fresh data: "–" and the age of the last, dimmed
            health = f"{health} {age_text(lost_for)}"
            return (Cell(r.instance_id, "dim", sort=r.instance_id),
                    num(-1, NA, "dim"), num(-1, NA, "dim"), num(-1, NA, "dim"),
                    num(-1, NA, "dim"),
                    Cell(health, "bold red", sort=problem_score("down", 0, 0.0)),
                    Cell(",".join(map(str, r.job_ids)) or "idle", "dim", sort=len(r.job_ids)),
                    Cell(loc.instance_type, "dim", sort=loc.instance_type),
                    Cell(loc.ultraserver or loc.rack.rsplit("-", 2)[-1], "dim", sort=loc.rack))
        if r.unhealthy_chips:
            health += f" ({r.unhealthy_chips})"
        return (
            Cell(r.instance_id, sort=r.instance_id),
            num(r.utilization, f"{r.utilization:.0%}", util_style(r.utilization)),
            num(hbm, f"{hbm:.0%}", mem_style(hbm)),
            num(r.power_watts, watts_text(r.power_watts)),
            num(r.temperature_max_celsius, celsius_text(r.temperature_max_celsius),
                temp_style(r.temperature_max_celsius)),
            Cell(health, health_style(r.health if r.up else "lost"),
                 sort=problem_score(r.health if r.up else "lost", r.throttled_chips,
                                    r.utilization)),
            Cell(",".join(map(str, r.job_ids)) or "idle", "" if r.job_ids else "dim",
                 sort=len(r.job_ids)),
            Cell(loc.instance_type, sort=loc.instance_type),
            Cell(loc.ultraserver or loc.rack.rsplit("-", 2)[-1], sort=loc.rack),
        )

    def _group_cells(self, key: str, rows: list[NodeRow]) -> tuple[Cell, ...]:
        chips = sum(r.chips for r in rows)
        util = sum(r.utilization * r.chips for r in rows) / max(chips, 1)
        hbm = sum(r.hbm_used_bytes for r in rows) / max(sum(r.hbm_total_bytes for r in rows), 1)
        power = sum(r.power_watts for r in rows)
        temp = max(r.temperature_max_celsius for r in rows)
        bad = sum(r.unhealthy_chips for r in rows) + sum(r.chips for r in rows if not r.up)
        jobs = {j for r in rows for j in r.job_ids}
        loc = rows[0].location
        parent = loc.availability_zone if self.level != "az" else loc.region
        return (
            Cell(short_name(self.level or "", key), sort=key),
            num(util, f"{util:.0%}", util_style(util)),
            num(hbm, f"{hbm:.0%}", mem_style(hbm)),
            num(power, watts_text(power)),
            num(temp, celsius_text(temp), temp_style(temp)),
            Cell(f"{bad} bad chips" if bad else "healthy", "red" if bad else "green",
                 sort=bad * 100 + (5 if any(r.throttled_chips for r in rows) else 0) + util),
            num(len(jobs), f"{len(jobs)} jobs" if jobs else "idle"),
            num(len(rows), f"{len(rows)} nodes"),
            Cell(parent, sort=parent),
        )

    def _highlight_cursor(self) -> None:
        frame = self.frame
        key = self.table.cursor_key
        if frame is None or frame.summary is None or key is None or key not in self._groups:
            self.heatmap.set_highlight(None)
            return
        self.heatmap.set_highlight(node_chip_mask(frame.summary, self._groups[key]))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._highlight_cursor()

    # --- actions -----------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_drill()

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
            self.level, _ = self.scope.pop()
            self.redraw()

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
        self._save_sort()

    def action_reverse_sort(self) -> None:
        self.table.set_sort(self.table.sort_by, reverse=not self.table.reverse)
        self._save_sort()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self._save_sort()

    def _save_sort(self) -> None:
        self.post_message(SettingChanged("sort", self.table.sort_by))
        self.post_message(SettingChanged("reverse", self.table.reverse))

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
            self.table.set_sort(st.sort, reverse=st.reverse)

    def on_chip_clicked(self, event: ChipClicked) -> None:
        frame = self.frame
        if frame is not None and frame.summary is not None:
            row = chip_node(frame.summary, event.chip)
            if row is not None:
                self.post_message(OpenNode(row.instance_id))
