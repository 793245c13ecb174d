"""The Node view: AWS neuron-top's screen for one instance, plus links, power and jobs.

Link throughput is the difference of two consecutive details' byte counters over their
simulated-time gap, so it needs two frames; the first shows `?`.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Region
from textual.widgets import DataTable, Static

from trnmon.api.models import NodeDetail
from trnmon.tui.messages import Focus, Frame, OpenDevice, OpenProcesses
from trnmon.tui.screens.base import DataScreen
from trnmon.tui.text import (
    bytes_text,
    celsius_text,
    health_style,
    mem_style,
    temp_style,
    util_style,
    watts_text,
)
from trnmon.tui.widgets.charts import HistoryStrip, Scale, chip_scales, pct, tdp_watts
from trnmon.tui.widgets.keyed_table import Cell, Column, KeyedTable, num
from trnmon.tui.widgets.node_panels import CoreGrid, HostPanel, TorusView

HBM_COLUMNS = (("tensors", "TENSORS"), ("constants", "CONST"), ("model_code", "CODE"),
               ("model_shared_scratchpad", "SCRATCH"), ("runtime_memory", "RUNTIME"))
COLUMNS = (Column("nd", "ND", 4), Column("health", "HEALTH", 9), Column("util", "UTIL", 6),
           Column("hbm", "HBM USED", 17),
           *(Column(k, label, 9) for k, label in HBM_COLUMNS),
           Column("power", "POWER", 7), Column("temp", "TEMP", 6), Column("job", "JOB", 6))


def link_rates(prev: NodeDetail | None, cur: NodeDetail) -> dict[tuple[int, str], float]:
    if prev is None or prev.node != cur.node or cur.t <= prev.t:
        return {}
    dt = cur.t - prev.t
    before = {(d.device, ln.port): ln.tx_bytes for d in prev.devices for ln in d.links}
    return {(d.device, ln.port): max(0.0, ln.tx_bytes - before[(d.device, ln.port)]) / dt
            for d in cur.devices for ln in d.links if (d.device, ln.port) in before}


class NodeScreen(DataScreen):
    """One instance: core grid, host, NeuronLink torus or ring, devices and jobs."""

    VIEW = "node"
    SCROLL_BODY = "#node-body"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_flops", "% / TFLOPS"),
        Binding("enter", "open_device", "Device", show=False),
        Binding("P", "open_processes", "Processes", show=False),
    ]

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id
        self._prev: NodeDetail | None = None
        self._rates: dict[tuple[int, str], float] = {}
        self._cursor_row: int | None = None

    def wanted_focus(self) -> Focus:
        return Focus(node=self.instance_id, history=self.instance_id)

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with VerticalScroll(id="node-body"):
            yield Static("loading…", id="node-title")
            with Horizontal(id="node-top"):
                yield CoreGrid(id="core-grid")
                with Vertical(id="node-side"):
                    yield HostPanel(id="host")
                    yield TorusView(id="torus")
            yield HistoryStrip(id="node-history")
            yield KeyedTable(COLUMNS, sort_by="nd", id="device-table")
            yield Static("", id="node-jobs")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        # Arrow keys move between devices, not scroll the page.
        self.query_one("#device-table", KeyedTable).focus()

    def draw(self, frame: Frame) -> None:
        d = frame.detail
        if (d is not None and frame.focus.node == self.instance_id and self._prev is not None
                and d.node == self._prev.node and d.instance_id != self.instance_id):
            self.instance_id = d.instance_id  # the node was replaced: follow the new instance
        if d is None or frame.focus.node != self.instance_id or d.instance_id != self.instance_id:
            return
        if self._prev is None or d.tick != self._prev.tick:
            self._rates = link_rates(self._prev, d) or self._rates
            self._prev = d
        loc = d.location
        self.query_one("#node-title", Static).update(Text.assemble(
            (d.instance_id, "bold"), f"  {loc.instance_type}  {loc.availability_zone}  ",
            f"{loc.rack}  {loc.ultraserver or ''}  ",
            ("up" if d.up else "DOWN", "green" if d.up else "bold red"),
            f"  LNC={d.lnc} ({d.core_version}, {d.logical_cores_per_device} NC/device)",
            (f"  replaced {d.replacements}x" if d.replacements else "", "yellow")))
        self.query_one(CoreGrid).set_detail(d)
        self.query_one(HostPanel).set_detail(d)
        self.query_one(TorusView).set_detail(d, self._rates)
        if frame.history is not None and frame.history.scope == self.instance_id:
            hbm = sum(dev.hbm_total_bytes for dev in d.devices)
            scales = chip_scales(d.devices[0].chip_name if d.devices else "", hbm)
            scales.update(utilization=Scale(0.0, 1.0, pct),
                          power_watts=Scale(0.0, tdp_watts(loc.instance_type), watts_text))
            self.query_one(HistoryStrip).show(frame.history, scales)
        rows: dict[str, tuple[Cell, ...]] = {}
        for dev in d.devices:
            used = sum(dev.hbm_used_bytes.values())
            ratio = used / max(dev.hbm_total_bytes, 1.0)
            cells = (
                num(dev.device, f"{dev.device}"),
                Cell(dev.health + ("*" if dev.throttled else ""), health_style(dev.health),
                     sort=dev.health),
                num(dev.utilization, f"{dev.utilization:.0%}", util_style(dev.utilization)),
                num(ratio, f"{bytes_text(used)}/{bytes_text(dev.hbm_total_bytes)}",
                    mem_style(ratio)),
                *(num(dev.hbm_used_bytes.get(k, 0.0),
                      bytes_text(dev.hbm_used_bytes.get(k, 0.0))) for k, _ in HBM_COLUMNS),
                num(dev.power_watts, watts_text(dev.power_watts)),
                num(dev.temperature_celsius, celsius_text(dev.temperature_celsius),
                    temp_style(dev.temperature_celsius)),
                num(dev.job_id, str(dev.job_id) if dev.job_id else "-"),
            )
            if self.matches(str(dev.device), dev.health, str(dev.job_id)):
                rows[str(dev.device)] = cells
        table = self.query_one("#device-table", KeyedTable)
        table.sync(rows)
        table.border_title = "devices · HBM by AWS category · Enter: device view · * throttled"
        jobs = Text("Jobs on this node: ", style="bold")
        for j in d.jobs:
            jobs.append(f"\n  {j.job_id} {j.name} ({j.kind}, {j.model}) {j.state} · "
                        f"{len(j.nodes)} nodes · step {j.step_seconds:.2f}s · "
                        f"{j.tokens_per_second:,.0f} tok/s · MFU {j.mfu:.0%}", style="")
        if not d.jobs:
            jobs.append("none", style="dim")
        self.query_one("#node-jobs", Static).update(jobs)

    def action_toggle_flops(self) -> None:
        grid = self.query_one(CoreGrid)
        grid.flops = not grid.flops  # reactive: the grid redraws itself

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Keep the device under the cursor on screen: the table does not scroll itself,
        the page does."""
        if self._cursor_row is None or event.cursor_row == self._cursor_row:
            self._cursor_row = event.cursor_row  # the first highlight: stay at the top
            return
        self._cursor_row = event.cursor_row
        table, body = event.data_table, self.query_one("#node-body", VerticalScroll)
        y = table.virtual_region.y + 2 + event.cursor_row  # border + header row
        body.scroll_to_region(Region(0, y - 1, 1, 3), animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_device()

    def action_open_processes(self) -> None:
        self.post_message(OpenProcesses(self.instance_id))

    def action_open_device(self) -> None:
        key = self.query_one("#device-table", KeyedTable).cursor_key
        if key is not None:
            self.post_message(OpenDevice(self.instance_id, int(key)))
