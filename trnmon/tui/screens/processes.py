"""The Processes view: the Neuron runtime processes on one node (`P` from the Node view).

Like AWS neuron-top's list of Neuron applications and nvitop's process table: one row
per runtime with its PID, runtime tag, command line, the NeuronCores it uses, its device
memory (HBM), host memory and vCPU. Rows come from `NodeDetail.processes`, so the view is
the same for an embedded fleet, a daemon and a real host read from neuron-monitor (which
reports no command line: the column shows "–" there).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import Static

from trnmon.api.models import NodeDetail, ProcessModel
from trnmon.tui.messages import Focus, Frame
from trnmon.tui.screens.base import DataScreen
from trnmon.tui.text import NA, bytes_text, mem_style, util_style
from trnmon.tui.widgets.keyed_table import Cell, Column, KeyedTable, num

COLUMNS = (Column("pid", "PID", 8), Column("tag", "RUNTIME TAG", 20),
           Column("cores", "NEURONCORES", 14), Column("util", "UTIL", 6),
           Column("hbm", "HBM", 10), Column("host", "HOST MEM", 10),
           Column("cpu", "vCPU usr/sys", 13), Column("version", "RUNTIME", 11),
           Column("command", "COMMAND", 40))


def core_ranges(cores: list[int]) -> str:
    """[0, 1, 2, 3, 8, 9] -> "0-3,8-9" (NEURON_RT_VISIBLE_CORES style)."""
    if not cores:
        return "-"
    parts, start, prev = [], cores[0], cores[0]
    for c in [*cores[1:], None]:
        if c is not None and c == prev + 1:
            prev = c
            continue
        parts.append(f"{start}-{prev}" if prev > start else str(start))
        if c is not None:
            start = prev = c
    return ",".join(parts)


def process_cells(p: ProcessModel, node_hbm: float) -> tuple[Cell, ...]:
    share = p.hbm_used_bytes / node_hbm if node_hbm > 0 else 0.0
    cpu = p.vcpu_user_ratio + p.vcpu_system_ratio
    return (
        num(p.pid, str(p.pid)), Cell(p.runtime_tag, "bold", sort=p.runtime_tag),
        num(len(p.neuroncores), f"{core_ranges(p.neuroncores)} ({len(p.neuroncores)})"),
        num(p.utilization, f"{p.utilization:.0%}", util_style(p.utilization)),
        num(p.hbm_used_bytes, bytes_text(p.hbm_used_bytes), mem_style(share)),
        num(p.host_used_bytes, bytes_text(p.host_used_bytes)),
        num(cpu, f"{p.vcpu_user_ratio:.1%}/{p.vcpu_system_ratio:.1%}"),
        Cell(p.runtime_version or NA, sort=p.runtime_version),
        Cell(p.command or NA, "dim" if not p.command else "", sort=p.command))


class ProcessesScreen(DataScreen):
    """The Neuron runtime processes of one node, one row each."""

    VIEW = "processes"
    BINDINGS: ClassVar[list[BindingType]] = []
    DEFAULT_CSS = """
    #proc-body { height: 1fr; }
    #proc-table { height: 1fr; }
    #proc-title { height: auto; }
    """

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id

    def wanted_focus(self) -> Focus:
        return Focus(node=self.instance_id, history=self.instance_id)

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="proc-body"):
            yield Static("loading…", id="proc-title")
            yield KeyedTable(COLUMNS, sort_by="pid", id="proc-table")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#proc-table", KeyedTable).focus()

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#proc-table", KeyedTable)

    def draw(self, frame: Frame) -> None:
        d = frame.detail
        if d is None or frame.focus.node != self.instance_id or d.instance_id != self.instance_id:
            return
        self.query_one("#proc-title", Static).update(title(d))
        node_hbm = sum(dev.hbm_total_bytes for dev in d.devices)
        rows = {str(p.pid): process_cells(p, node_hbm) for p in d.processes
                if self.matches(str(p.pid), p.runtime_tag, p.command, p.runtime_version)}
        self.table.sync(rows)
        self.table.border_title = (f"{len(d.processes)} Neuron runtime processes · "
                                   "HBM and vCPU per runtime · Esc: node view")


def title(d: NodeDetail) -> Text:
    cores = d.logical_cores_per_device * len(d.devices)
    used = len({c for p in d.processes for c in p.neuroncores})
    return Text.assemble((d.instance_id, "bold"), f"  {d.location.instance_type}  ",
                         f"processes {len(d.processes)}  ",
                         f"NeuronCores in use {used}/{cores} ({d.core_version})")
