"""The two-line summary header: where the data comes from, then the fleet's vital signs."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from trnmon.tui.messages import Frame
from trnmon.tui.text import GREEN, RED, YELLOW, util_style, watts_text


def clock_text(wall_time: float) -> str:
    """Simulated (or remote) wall clock in UTC: never the local clock, so runs replay."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(wall_time))


class FleetHeader(Static):
    DEFAULT_CSS = """FleetHeader { height: 2; background: $panel; padding: 0 1;
                                text-wrap: nowrap; text-overflow: ellipsis; }"""

    def show(self, frame: Frame | None, *, paused: bool, interval: float, view: str) -> None:
        line1 = Text.assemble(("neuron-top", "bold"), f" · {view} · ")
        if frame is None:
            self.update(Text.assemble(line1, ("waiting for data…", YELLOW)))
            return
        st = frame.status
        line1.append(st.text, style=GREEN if st.connected else f"bold {RED}")
        s = frame.summary
        if s is not None:
            line1.append(f" · {s.fleet} · tick {s.tick} · {clock_text(s.wall_time)}")
        line1.append(f" · every {interval:g}s")
        if paused:
            line1.append("  PAUSED", style=f"bold reverse {YELLOW}")
        if s is None:
            self.update(line1)
            return
        t = s.totals
        busy = t.busy_chips / max(t.chips, 1)
        line2 = Text.assemble(
            "chips ", (f"{t.chips:,}", "bold"),
            "  busy ", (f"{t.busy_chips:,} ({busy:.0%})", util_style(busy)),
            "  unhealthy ", (f"{t.unhealthy_chips:,}", RED if t.unhealthy_chips else GREEN),
            "  throttled ", (f"{t.throttled_chips:,}", YELLOW if t.throttled_chips else GREEN),
            "  util ", (f"{t.utilization:.1%}", util_style(t.utilization)),
            "  power ", (watts_text(t.power_watts), "bold"),
            "  nodes ", f"{t.nodes_up}/{t.nodes}",
            "  jobs ", f"{t.jobs}+{t.queued_jobs}q",
            "  alerts ", (f"{t.active_faults}", f"bold {RED}" if t.active_faults else GREEN),
            "  burn ", (f"{t.cost_per_hour:,.0f}/h", "bold"),
            f" idle {t.cost_idle_share:.0%} lost ",
            (f"{t.cost_lost_share:.0%}", YELLOW if t.cost_lost_share > 0.1 else GREEN))
        for line in (line1, line2):
            # One row each at any width: a wrapped header would push the fleet line away.
            line.no_wrap, line.overflow = True, "ellipsis"
        self.update(Text("\n").join([line1, line2]))
