"""The Device view: one NeuronDevice's cores, engines, history, counters and links."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from trnmon.api.models import DeviceDetail, NodeDetail
from trnmon.tui.messages import Focus, Frame
from trnmon.tui.screens.base import DataScreen
from trnmon.tui.screens.node import link_rates
from trnmon.tui.text import (
    LINK_STYLE,
    bar,
    bytes_text,
    celsius_text,
    count_text,
    health_style,
    rate_text,
    temp_style,
    watts_text,
)
from trnmon.tui.widgets.charts import chart_line, chip_scales
from trnmon.tui.widgets.keyed_table import Cell, Column, KeyedTable, num

SPARKS = (("utilization", "util "), ("hbm_used_bytes", "HBM  "), ("power_watts", "power"),
          ("temperature_celsius", "temp "))
LINK_COLUMNS = (Column("port", "PORT", 8), Column("kind", "KIND", 11),
                Column("peer", "PEER", 26), Column("state", "STATE", 9),
                Column("bw", "BANDWIDTH", 11), Column("rate", "TX RATE", 11),
                Column("errors", "ERRORS", 8))


def cores_table(dev: DeviceDetail, width: int) -> Table:
    t = Table(box=None, expand=False, padding=(0, 1), title="physical cores · engines",
              title_justify="left", title_style="bold")
    t.add_column("core")
    t.add_column("util", no_wrap=True)
    engines = list(dev.cores[0].engines) if dev.cores else []
    for e in engines:
        t.add_column(e, no_wrap=True)
    w = max(4, min(14, (width - 16) // max(len(engines) + 1, 1) - 6))
    for c in dev.cores:
        t.add_row(f"PC{c.index}", Text.assemble(bar(c.utilization, w), f"{c.utilization:4.0%}"),
                  *(Text.assemble(bar(c.engines[e], w), f"{c.engines[e]:4.0%}")
                    for e in engines))
    return t


def counters_table(dev: DeviceDetail) -> Table:
    t = Table(box=None, padding=(0, 1), title="counters", title_justify="left",
              title_style="bold")
    t.add_column("counter")
    t.add_column("value", justify="right")
    for k, v in dev.ecc.items():
        t.add_row(k, Text(count_text(v), style="red" if v and "uncorrected" in k else ""))
    for k, v in dev.execution_status.items():
        t.add_row(f"exec {k}", count_text(v))
    for k, v in dev.execution_errors.items():
        t.add_row(f"error {k}", Text(count_text(v), style="yellow" if v else ""))
    for k, v in dev.latency_seconds.items():
        t.add_row(f"latency {k}", f"{v * 1e3:.1f} ms")
    return t


class DeviceScreen(DataScreen):
    """One NeuronDevice: cores and engines, history, counters and links."""

    VIEW = "device"
    SCROLL_BODY = "#device-body"

    def __init__(self, instance_id: str, device: int) -> None:
        super().__init__()
        self.instance_id, self.device = instance_id, device
        self._prev_detail: NodeDetail | None = None
        self._rates: dict[tuple[int, str], float] = {}

    def wanted_focus(self) -> Focus:
        return Focus(node=self.instance_id, history=f"{self.instance_id}/nd{self.device}")

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with VerticalScroll(id="device-body"):
            yield Static("loading…", id="device-title")
            with Horizontal(id="device-top"):
                yield Static("", id="cores")
                yield Static("history: waiting for data…", id="sparks")
            with Horizontal(id="device-bottom"):
                yield Static("", id="counters")
                yield KeyedTable(LINK_COLUMNS, sort_by="port", id="link-table")
        yield from self.compose_footer()

    def draw(self, frame: Frame) -> None:
        d = frame.detail
        if d is None or d.instance_id != self.instance_id or self.device >= len(d.devices):
            return
        prev = self._prev_detail
        if prev is None or prev.tick != d.tick:
            self._rates = link_rates(prev, d) or self._rates
            self._prev_detail = d
        dev = d.devices[self.device]
        used = sum(dev.hbm_used_bytes.values())
        self.query_one("#device-title", Static).update(Text.assemble(
            (f"{self.instance_id} ND{dev.device}", "bold"), f"  {dev.chip_name} chip {dev.chip}  ",
            (dev.health, health_style(dev.health)),
            ("  THROTTLED" if dev.throttled else "", "bold yellow"),
            f"  clock {dev.clock_ratio:.0%}  ",
            (celsius_text(dev.temperature_celsius, 1), temp_style(dev.temperature_celsius)),
            f"  {watts_text(dev.power_watts)}  energy {dev.energy_joules / 3.6e6:.2f} kWh  ",
            f"HBM {bytes_text(used)}/{bytes_text(dev.hbm_total_bytes)} "
            f"(bw {dev.hbm_bandwidth_utilization:.0%})  job {dev.job_id or '-'}"))
        self.query_one("#cores", Static).update(cores_table(dev, self.size.width // 2))
        self.query_one("#counters", Static).update(counters_table(dev))
        hist = frame.history
        if hist is not None and hist.scope == f"{self.instance_id}/nd{self.device}":
            box = self.query_one("#sparks", Static)
            width = max(30, box.content_size.width or self.size.width // 2)
            scales = chip_scales(dev.chip_name, dev.hbm_total_bytes)
            minutes = (hist.t[-1] - hist.t[0]) / 60 if len(hist.t) > 1 else 0.0
            box.update(Text("\n").join([
                Text(f"history · last {minutes:.1f} min · fixed scales", style="bold"),
                *(chart_line(label, hist.series.get(key, []), scales[key], width)
                  for key, label in SPARKS)]))
        rows: dict[str, tuple[Cell, ...]] = {}
        for ln in dev.links:
            rate = self._rates.get((dev.device, ln.port))
            rows[ln.port] = (
                Cell(ln.port, sort=ln.port), Cell(ln.kind, sort=ln.kind),
                Cell(f"{ln.peer_instance_id}/nd{ln.peer_device}", sort=ln.peer_instance_id),
                Cell(ln.state, LINK_STYLE.get(ln.state, "yellow"), sort=ln.state),
                num(ln.bandwidth_bytes_per_second, rate_text(ln.bandwidth_bytes_per_second)),
                num(rate or 0.0, "?" if rate is None else rate_text(rate)),
                num(ln.errors, count_text(ln.errors), "red" if ln.errors else ""),
            )
        self.query_one("#link-table", KeyedTable).sync(rows)
