"""`?`: every key, collected from the bindings themselves so the list cannot go stale."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EXTRA_KEYS = (
    ("↑ ↓ PgUp PgDn", "all", "move the row cursor"),
    ("Enter / click", "tables", "drill down (group → node → device)"),
    ("Escape", "all", "close the filter, climb a level, or go back a view"),
    ("click header", "tables", "sort by that column (again: reverse)"),
    ("click heatmap", "fleet", "open the node under the cell"),
)


def key_rows() -> list[tuple[str, str, str]]:
    from trnmon.tui.app import NeuronTopApp
    from trnmon.tui.screens.base import DataScreen
    from trnmon.tui.screens.device import DeviceScreen
    from trnmon.tui.screens.events import EventsScreen
    from trnmon.tui.screens.fleet import FleetScreen
    from trnmon.tui.screens.jobs import JobsScreen
    from trnmon.tui.screens.node import NodeScreen

    rows: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for where, cls in (("all", NeuronTopApp), ("all", DataScreen), ("fleet", FleetScreen),
                       ("node", NodeScreen), ("device", DeviceScreen), ("jobs", JobsScreen),
                       ("events", EventsScreen)):
        for b in cls.BINDINGS:
            if not isinstance(b, Binding) or b.key in ("escape", "enter"):
                continue
            key = b.key_display or b.key
            if (where, key) not in seen:
                seen.add((where, key))
                rows.append((key, where, b.description))
    rows.extend(EXTRA_KEYS)
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(title="neuron-top keys", expand=True, box=None)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("view", style="dim")
        table.add_column("does")
        for key, where, what in key_rows():
            table.add_row(key, where, what)
        with VerticalScroll(id="help-box"):
            yield Static(table)
