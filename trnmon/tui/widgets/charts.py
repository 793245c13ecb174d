"""Sparklines on fixed scales, with their scale and min/max/now labels.

A sparkline that rescales to its own min..max draws a steady 97 % (or 457 W) as a flat
`▁▁▁▁` that reads as zero; these always map a fixed range (0–100 %, 0–TDP W, 0–HBM
capacity, ambient–critical °C) onto the eight block heights, so height means the same
thing everywhere. `HistoryStrip` stacks a few of them for the fleet or a node.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from trnmon.api.models import HistorySeries
from trnmon.hw.catalog import CHIPS, INSTANCE_TYPES
from trnmon.tui.text import DIM, bytes_text, celsius_text, util_style, watts_text

BLOCKS = " ▁▂▃▄▅▆▇█"
AMBIENT_C = 24.0  # the config's default ambient: the bottom of every temperature chart


def spark(values: Sequence[float], lo: float, hi: float, width: int) -> str:
    """The last `width` values as blocks on the fixed scale lo..hi (NaN: a blank)."""
    out = []
    span = hi - lo if hi > lo else 1.0
    for v in list(values)[-width:]:
        if math.isnan(v):
            out.append(" ")
            continue
        x = min(max((v - lo) / span, 0.0), 1.0)
        out.append(BLOCKS[1 + round(x * (len(BLOCKS) - 2))])  # never blank: 0 is ▁
    return "".join(out).rjust(width)


@dataclass(frozen=True, slots=True)
class Scale:
    """A chart's fixed range and how to print its values."""

    lo: float
    hi: float
    fmt: Callable[[float], str]

    def label(self) -> str:
        return f"{self.fmt(self.lo)}–{self.fmt(self.hi)}"


def pct(v: float) -> str:
    return f"{v:.0%}"


def chart_line(name: str, values: Sequence[float], scale: Scale, width: int) -> Text:
    """`util ▂▄▇█ now 97% min 90% max 98% (0%–100%)`, fitted to `width` columns."""
    good = [v for v in values if not math.isnan(v)]
    now = good[-1] if good else float("nan")
    stats = (f" now {scale.fmt(now)} min {scale.fmt(min(good))} max {scale.fmt(max(good))}"
             if good else " no data yet")
    tail = f" {scale.label()}"
    spark_w = max(4, width - len(name) - 1 - len(stats) - len(tail))
    ratio = (now - scale.lo) / (scale.hi - scale.lo) if good and scale.hi > scale.lo else 0.0
    return Text.assemble((f"{name} ", "bold"),
                         (spark(values, scale.lo, scale.hi, spark_w), util_style(ratio)),
                         stats, (tail, DIM))


def chip_scales(chip_name: str, hbm_total: float) -> dict[str, Scale]:
    """Device charts: 0–100 %, 0–TDP W, 0–HBM capacity, ambient–critical °C."""
    spec = next((c for c in CHIPS.values() if c.name == chip_name), None)
    tdp = spec.max_watts if spec else 500.0
    critical = spec.critical_celsius if spec else 105.0
    return {"utilization": Scale(0.0, 1.0, pct), "power_watts": Scale(0.0, tdp, watts_text),
            "hbm_used_bytes": Scale(0.0, hbm_total, bytes_text),
            "temperature_celsius": Scale(AMBIENT_C, critical, celsius_text),
            "temperature_max_celsius": Scale(AMBIENT_C, critical, celsius_text)}


def tdp_watts(instance_type: str) -> float:
    """An instance's power ceiling: chips × the chip's TDP."""
    it = next((i for i in INSTANCE_TYPES if i.name == instance_type), None)
    if it is None:
        return 0.0
    return it.chips * CHIPS[it.chip].max_watts


class HistoryStrip(Widget):
    """Utilization, power and HBM of the fleet or a node over the history window."""

    DEFAULT_CSS = "HistoryStrip { height: auto; padding: 0 1; }"
    SERIES = (("utilization", "util "), ("power_watts", "power"), ("hbm_used_bytes", "HBM  "))
    history: reactive[HistorySeries | None] = reactive(None, layout=True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.scales: dict[str, Scale] = {}

    def show(self, history: HistorySeries | None, scales: dict[str, Scale]) -> None:
        """Draw `history` on `scales` (series name -> fixed scale)."""
        self.scales = scales
        self.history = history

    def render(self) -> Text:
        h = self.history
        if h is None:
            return Text("history: waiting for data…", style=DIM)
        width = max(20, self.content_size.width)
        minutes = (h.t[-1] - h.t[0]) / 60 if len(h.t) > 1 else 0.0
        lines = [Text(f"history · last {minutes:.1f} min · fixed scales", style="bold")]
        for key, name in self.SERIES:
            if key in h.series and key in self.scales:
                lines.append(chart_line(name, h.series[key], self.scales[key], width))
        return Text("\n").join(lines)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return 1 + sum(1 for k, _ in self.SERIES
                       if self.history is not None and k in self.history.series)
