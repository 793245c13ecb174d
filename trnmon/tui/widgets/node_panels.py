"""Node view panels rendered as Rich text that adapts to the widget's width.

* CoreGrid: AWS neuron-top's ND × NC grid, `||||` bar plus `[56.8%]`, or TFLOPS (`f`).
* TorusView: the node's NeuronLink grid (4×4 torus, or the Inferentia2 ring) with each
  link's throughput; degraded links yellow `!`, down links red `✕`.
* HostPanel: host vCPU (system and runtime) and memory bars.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from trnmon.api.models import LinkDetail, NodeDetail
from trnmon.hw.catalog import CHIPS
from trnmon.tui.text import DIM, LINK_STYLE, bar, bar_pct, bytes_text, mem_style


def peak_core_tflops(d: NodeDetail) -> float:
    """A logical core's dense BF16 peak: the chip's peak over its logical cores."""
    name = d.devices[0].chip_name if d.devices else ""
    spec = next((c for c in CHIPS.values() if c.name == name), None)
    return spec.bf16_tflops / max(d.logical_cores_per_device, 1) if spec else 0.0


class CoreGrid(Widget):
    """AWS neuron-top's ND × NC grid: utilization, or TFLOPS against the core's peak (`f`)."""

    DEFAULT_CSS = "CoreGrid { height: auto; }"
    flops: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: NodeDetail | None = None

    def set_detail(self, detail: NodeDetail | None) -> None:
        self.detail = detail
        self.refresh(layout=True)

    def render(self) -> Text:
        d = self.detail
        if d is None:
            return Text("loading…", style=DIM)
        ncores = max((len(dev.logical_cores) for dev in d.devices), default=0)
        cores = [c for dev in d.devices for c in dev.logical_cores]
        peak = peak_core_tflops(d) * 1e12
        if self.flops:
            avg_tf = sum(c.flops for c in cores) / max(len(cores), 1) / 1e12
            title = (f"NeuronCore {d.core_version} TFLOPS (Avg: {avg_tf:.1f} of "
                     f"{peak / 1e12:.0f} BF16 peak per core)")
        else:
            avg = sum(c.utilization for c in cores) / max(len(cores), 1)
            title = f"NeuronCore {d.core_version} Utilization (Avg: {avg:.2%})"
        cell_w = max(10, (self.size.width - 6) // max(ncores, 1))
        bar_w = max(1, cell_w - 10)
        lines = [Text(title, style="bold")]
        for dev in d.devices:
            line = Text(f"ND{dev.device:<3} ")
            for c in dev.logical_cores:
                if self.flops:
                    tf = c.flops / 1e12
                    line.append_text(bar(c.flops / max(peak, 1.0), bar_w))
                    line.append(f"[{tf:6.1f}T]")
                else:
                    line.append_text(bar_pct(c.utilization, bar_w))
                line.append(" ")
            lines.append(line)
        return Text("\n").join(lines)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return 1 + (len(self.detail.devices) if self.detail else 0)


class HostPanel(Widget):
    """Host vCPU (system and Neuron runtime) and memory bars, and the EFA devices."""

    DEFAULT_CSS = "HostPanel { height: auto; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: NodeDetail | None = None

    def set_detail(self, detail: NodeDetail | None) -> None:
        self.detail = detail
        self.refresh()

    def render(self) -> Text:
        d = self.detail
        if d is None:
            return Text("")
        h = d.host
        w = max(8, self.size.width - 34)
        mem = h.memory_used_bytes / max(h.memory_total_bytes, 1.0)
        return Text("\n").join([
            Text(f"Host · {h.vcpus} vCPU", style="bold"),
            Text.assemble("System vCPU  ", bar(h.vcpu_user_ratio + h.vcpu_system_ratio, w),
                          f" [{h.vcpu_user_ratio:.1%}, {h.vcpu_system_ratio:.1%}]"),
            Text.assemble("Runtime vCPU ", bar(h.runtime_vcpu_user_ratio
                                               + h.runtime_vcpu_system_ratio, w),
                          f" [{h.runtime_vcpu_user_ratio:.1%}, "
                          f"{h.runtime_vcpu_system_ratio:.1%}]"),
            Text.assemble("Memory       ", bar(mem, w, mem_style(mem)),
                          f" {bytes_text(h.memory_used_bytes)}/"
                          f"{bytes_text(h.memory_total_bytes)}"),
            efa_line(d),
        ])

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return 5


def efa_line(d: NodeDetail) -> Text:
    """The node's EFA devices: how many are up, the bandwidth they leave, bytes sent, and
    the names of the downed ones."""
    if not d.efa:
        return Text.assemble("EFA          ", ("no devices reported", "dim"))
    up = [e for e in d.efa if e.state == "up"]
    down = [e.name for e in d.efa if e.state != "up"]
    gbps = sum(e.bandwidth_bytes_per_second for e in up) * 8 / 1e9
    return Text.assemble(
        "EFA          ", (f"{len(up)}/{len(d.efa)} up", "green" if not down else "bold red"),
        f" · {gbps:,.0f} Gbps · tx {bytes_text(d.host.efa_tx_bytes)}",
        (f"  down: {' '.join(down)}" if down else "", "red"))


def link_label(link: LinkDetail, rate: float | None, width: int = 5) -> Text:
    """A link's tx GB/s in exactly `width` cells, marked ! degraded or ✕ down."""
    style = LINK_STYLE.get(link.state, "yellow")
    mark = {"down": "✕", "degraded": "!"}.get(link.state, "")
    if rate is None:
        value = "?"
    else:
        gbs = rate / 1e9
        value = f"{gbs:.1f}" if len(f"{gbs:.1f}") + len(mark) <= width else f"{gbs:.0f}"
    return Text(f"{mark}{value}".rjust(width)[:width], style=style)


class TorusView(Widget):
    """The node's NeuronLink torus or ring with each link's tx throughput."""

    DEFAULT_CSS = "TorusView { height: auto; text-wrap: nowrap; text-overflow: clip; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: NodeDetail | None = None
        self.rates: dict[tuple[int, str], float] = {}

    def set_detail(self, detail: NodeDetail | None,
                   rates: dict[tuple[int, str], float]) -> None:
        self.detail, self.rates = detail, rates
        self.refresh(layout=True)

    def _lines(self) -> list[Text]:
        d = self.detail
        if d is None:
            return []
        width = max(self.size.width, 30)
        links = {(dev.device, ln.port): ln for dev in d.devices for ln in dev.links}
        n = len(d.devices)
        torus = any(port == "right" for _, port in links)
        value_w = 5 if width >= 4 * 13 else 3  # "ND12─102.4─" or "ND12─102─"
        cell_w = 4 + 1 + value_w + 2
        # The torus keeps its 4 columns; the inf2 ring takes as many as fit (12 on a wide
        # screen, else rows of 6 or 4), each row continuing the ring.
        cols = 4 if torus else max(1, min(n, width // cell_w))
        kind = "4×4 torus" if torus else f"{n}-chip ring"
        out = [Text(f"NeuronLink {kind} · tx GB/s · !degraded ✕down", style="bold")]
        across = "right" if torus else "left"
        for r in range((n + cols - 1) // cols):
            row, under = Text(), Text()
            for c in range(cols):
                dev = r * cols + c
                if dev >= n:
                    break
                row.append(f"ND{dev:<2}", style="bold")
                ln = links.get((dev, across))
                row.append_text(Text("─") + (link_label(ln, self.rates.get((dev, across)),
                                                        value_w)
                                             if ln else Text(" " * value_w)) + Text("─ "))
                down = links.get((dev, "down"))
                under.append_text(Text("│") + (link_label(down, self.rates.get((dev, "down")),
                                                          value_w)
                                               if down else Text(" " * value_w))
                                  + Text(" " * (cell_w - value_w - 1)))
            out.append(row)
            if torus:
                out.append(under)
        us = [ln for (dev, port), ln in links.items() if port.startswith("us_")]
        if us:
            bad = [ln for ln in us if ln.state != "up"]
            total = sum(self.rates.get((0, p), 0.0) for p in ("us_prev", "us_next"))
            out.append(Text.assemble(
                "UltraServer ring ", f"{len(us)} links ",
                (f"{len(bad)} not up" if bad else "all up", "red" if bad else "green"),
                f" · ND0 {total / 1e9:.1f} GB/s"))
        for line in out:
            line.no_wrap, line.overflow = True, "crop"
        return out

    def render(self) -> Text:
        out = Text("\n", no_wrap=True, overflow="crop").join(self._lines())
        out.no_wrap, out.overflow = True, "crop"
        return out

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self._lines())
