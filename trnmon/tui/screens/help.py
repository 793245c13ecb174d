"""`?`: every key, collected from the bindings themselves so the list cannot go stale."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EXTRA_KEYS = (
    ("↑ ↓ PgUp PgDn Home End", "all", "move the row cursor / scroll the view"),
    ("Tab / Shift+Tab", "all", "next / previous panel"),
    ("Enter / click", "tables", "drill down (group → node → device); event or job → node"),
    ("Escape", "all", "close or clear the filter, climb a level, or go back a view"),
    ("Ctrl+C", "all", "quit"),
    ("click header", "tables", "sort by that column (again: reverse)"),
    ("click heatmap", "fleet", "open the node under the cell"),
)


def key_rows(sources: Iterable[tuple[str, type[object]]]) -> list[tuple[str, str, str]]:
    """(key, view, what) for every binding of `sources` ((view, class) pairs), then the
    keys no binding declares (the app passes its own classes: this module imports none)."""
    rows: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for where, cls in sources:
        for b in vars(cls).get("BINDINGS", []):  # its own keys, not inherited ones
            if (not isinstance(b, Binding) or b.key in ("escape", "enter", "ctrl+c")
                    or not b.description):
                continue  # undescribed bindings are covered by EXTRA_KEYS
            key = b.key_display or b.key
            if (where, key) not in seen:
                seen.add((where, key))
                rows.append((key, where, b.description))
    rows.extend(EXTRA_KEYS)
    return rows


class HelpScreen(ModalScreen[None]):
    """`?`: the key table over the live view (a modal: the screen below keeps updating)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark", "dismiss", "Close"),
        Binding("pageup", "scroll('page_up')", show=False),
        Binding("pagedown", "scroll('page_down')", show=False),
        Binding("home", "scroll('home')", show=False),
        Binding("end", "scroll('end')", show=False),
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def action_scroll(self, where: str) -> None:
        box = self.query_one("#help-box", VerticalScroll)
        {"page_up": box.scroll_page_up, "page_down": box.scroll_page_down,
         "home": box.scroll_home, "end": box.scroll_end}[where](animate=False)

    def compose(self) -> ComposeResult:
        table = Table(title="neuron-top keys", expand=True, box=None)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("view", style="dim")
        table.add_column("does")
        for key, where, what in self.rows:
            table.add_row(key, where, what)
        with VerticalScroll(id="help-box"):
            yield Static(table)
