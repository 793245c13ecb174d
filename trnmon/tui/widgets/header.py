"""The summary header: declared segments flowed into as many lines as the width needs.

Each segment is one `HeaderSegment` in `SEGMENTS` (a name, a priority and a function from
the frame to rich Text or None), so adding one (say a burn rate) is a one-line change.
Segments never split across lines; when the header would take more than `MAX_LINES`,
the lowest-priority segments are dropped first. PAUSED, STALE and alerts have the top
priority, so they are on screen at any width.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from trnmon.api.models import FleetSummary
from trnmon.tui.messages import Frame
from trnmon.tui.text import GREEN, RED, YELLOW, util_style, watts_text

MAX_LINES = 2
SEP = "  "


def clock_text(wall_time: float) -> str:
    """Simulated (or remote) wall clock in UTC: never the local clock, so runs replay."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(wall_time))


def age_text(seconds: float) -> str:
    """A short age: 7s, 3m12s, 2h05m."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


@dataclass(frozen=True, slots=True)
class HeaderSegment:
    """One piece of the header; `render` returns None when it has nothing to say."""

    name: str
    priority: int  # higher stays longer when the width is short
    render: Callable[[Frame, str, float], Text | None]  # (frame, view, monotonic now)


def _stale(f: Frame, view: str, now: float) -> Text | None:
    if f.status.connected:
        return None
    age = age_text(now - f.fresh_at) if f.fresh_at else "?"
    return Text(f"STALE {age}", style=f"bold reverse {RED}")


Render = Callable[[Frame, str, float], Text | None]


def _s(fn: Callable[[FleetSummary], Text]) -> Render:
    """A segment drawn from the summary: absent until the first summary arrives."""
    return lambda f, view, now: fn(f.summary) if f.summary is not None else None


def _count(label: str, value: int, bad: str) -> Text:
    return Text.assemble(f"{label} ", (f"{value:,}", bad if value else GREEN))


SEGMENTS: tuple[HeaderSegment, ...] = (
    HeaderSegment("app", 90, lambda f, v, n: Text.assemble(("neuron-top", "bold"), f" {v}")),
    HeaderSegment("paused", 100, lambda f, v, n: Text("PAUSED", style=f"bold reverse {YELLOW}")
                  if f.paused else None),
    HeaderSegment("stale", 100, _stale),
    HeaderSegment("alerts", 95, _s(lambda s: _count("alerts", s.totals.active_faults,
                                                    f"bold reverse {RED}"))),
    HeaderSegment("source", 60, lambda f, v, n: Text(f.status.text, style=GREEN)
                  if f.status.connected else None),
    # Disconnected, what the source says (unreachable, reconnecting in …) matters most.
    HeaderSegment("source-down", 96, lambda f, v, n: None if f.status.connected
                  else Text(f.status.text, style=f"bold {RED}")),
    HeaderSegment("chips", 80, _s(lambda s: Text.assemble(
        "chips ", (f"{s.totals.chips:,}", "bold")))),
    HeaderSegment("unhealthy", 85, _s(lambda s: _count("unhealthy", s.totals.unhealthy_chips,
                                                       RED))),
    HeaderSegment("throttled", 75, _s(lambda s: _count("throttled", s.totals.throttled_chips,
                                                       YELLOW))),
    HeaderSegment("busy", 50, _s(lambda s: Text(f"busy {s.totals.busy_chips:,}"))),
    HeaderSegment("util", 78, _s(lambda s: Text.assemble("util ", (
        f"{s.totals.utilization:.1%}", util_style(s.totals.utilization))))),
    HeaderSegment("power", 77, _s(lambda s: Text.assemble(
        "power ", (watts_text(s.totals.power_watts), "bold")))),
    HeaderSegment("nodes", 70, _s(lambda s: Text(f"nodes {s.totals.nodes_up}/{s.totals.nodes}"))),
    HeaderSegment("jobs", 65, _s(lambda s: Text(
        f"jobs {s.totals.jobs}+{s.totals.queued_jobs}q"))),
    # The burn rate and the shares of it on idle and lost capacity (issue 19).
    HeaderSegment("burn", 60, _s(lambda s: Text.assemble(
        "burn ", (f"{s.totals.cost_per_hour:,.0f}/h", "bold"),
        f" idle {s.totals.cost_idle_share:.0%} lost {s.totals.cost_lost_share:.0%}"))),
    HeaderSegment("fleet", 30, _s(lambda s: Text(s.fleet))),
    HeaderSegment("tick", 20, _s(lambda s: Text(f"tick {s.tick}"))),
    HeaderSegment("clock", 25, _s(lambda s: Text(clock_text(s.wall_time)))),
    HeaderSegment("interval", 40, lambda f, v, n: Text(f"every {f.interval:g}s")),
)


def flow(parts: list[tuple[int, Text]], width: int, max_lines: int = MAX_LINES) -> list[Text]:
    """Lay out (priority, text) parts in order into at most `max_lines` lines of `width`,
    dropping the lowest priorities first until they fit."""
    keep = list(parts)
    while True:
        lines: list[Text] = [Text()]
        for _, t in keep:
            line = lines[-1]
            need = t.cell_len + (len(SEP) if line.cell_len else 0)
            if line.cell_len and line.cell_len + need > width:
                lines.append(Text())
                line = lines[-1]
            if line.cell_len:
                line.append(SEP)
            line.append_text(t)
        if len(lines) <= max_lines or len(keep) <= 1:
            for line in lines:
                line.no_wrap, line.overflow = True, "ellipsis"
            return lines
        lowest = min(p for p, _ in keep)
        drop = max(i for i, (p, _) in enumerate(keep) if p == lowest)
        del keep[drop]


class FleetHeader(Widget):
    """Where the data comes from and the fleet's vital signs, never cut at any width."""

    DEFAULT_CSS = """FleetHeader { height: auto; max-height: 2; background: $panel;
                                padding: 0 1; }"""
    frame: reactive[Frame | None] = reactive(None, layout=True)
    view: reactive[str] = reactive("fleet")
    filter_text: reactive[str] = reactive("")

    def on_mount(self) -> None:
        # The stale age keeps counting while no frame arrives.
        self.set_interval(1.0, self._tick_stale)

    def _tick_stale(self) -> None:
        if self.frame is not None and not self.frame.status.connected:
            self.refresh()

    def show(self, frame: Frame, *, view: str, filter_text: str = "") -> None:
        """Draw `frame` for `view` (the active filter is shown too)."""
        self.frame, self.view, self.filter_text = frame, view, filter_text

    def lines(self, width: int) -> list[Text]:
        f = self.frame
        if f is None:
            return [Text.assemble(("neuron-top", "bold"), " waiting for data…")]
        now = time.monotonic()
        parts = [(seg.priority, t) for seg in SEGMENTS
                 if (t := seg.render(f, self.view, now)) is not None]
        if self.filter_text:
            parts.insert(1, (88, Text(f"filter: {self.filter_text}", style=f"bold {YELLOW}")))
        return flow(parts, max(width, 20))

    def render(self) -> Text:
        return Text("\n").join(self.lines(self.content_size.width or self.app.size.width))

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self.lines(width))
