"""A virtualised table: only the rows on screen are ever formatted or rendered.

The owner hands `set_rows()` the row keys in display order and a function that formats
row i on demand; the table keeps the cursor on the same key across updates and draws
the header plus the visible slice with Textual's line API. So 2,500 nodes cost the same
as 40 per keystroke: filtering, grouping and sorting happen on arrays in the owner, and
the table never builds a row that is not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from trnmon.tui.widgets.keyed_table import Cell, Column

RowFormatter = Callable[[int], tuple[Cell, ...]]
PAD = 1  # spaces either side of a cell, as DataTable draws them


class VirtualTable(ScrollView, can_focus=True):
    """Header plus a scrolling, cursor-driven window onto rows formatted on demand."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", show=False), Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False), Binding("pagedown", "page(1)", show=False),
        Binding("home", "edge(0)", show=False), Binding("end", "edge(1)", show=False),
        Binding("enter", "select", show=False),
        Binding("left", "pan(-8)", show=False), Binding("right", "pan(8)", show=False),
    ]
    cursor_row: reactive[int] = reactive(0, always_update=True)

    class Highlighted(Message):
        """The cursor moved to row `key`."""

        def __init__(self, table: VirtualTable, key: str | None) -> None:
            super().__init__()
            self.table, self.key = table, key

    class Selected(Message):
        """Enter (or a click) on row `key`."""

        def __init__(self, table: VirtualTable, key: str) -> None:
            super().__init__()
            self.table, self.key = table, key

    class HeaderClicked(Message):
        """The header of column `column` was clicked."""

        def __init__(self, table: VirtualTable, column: str) -> None:
            super().__init__()
            self.table, self.column = table, column

    class SortChanged(Message):
        """The operator picked a sort (`sort_by`, `reverse` are on the table)."""

        def __init__(self, table: VirtualTable) -> None:
            super().__init__()
            self.table = table

    def __init__(self, columns: Sequence[Column], *, sort_by: str, reverse: bool = False,
                 numeric: frozenset[str] = frozenset(), id: str | None = None) -> None:
        super().__init__(id=id)
        self.numeric = numeric
        self._last_key: str | None = None
        self.specs = list(columns)
        self.widths = [max(c.width, len(c.label) + 1) for c in self.specs]
        self.sort_by, self.reverse = sort_by, reverse
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        self._format: RowFormatter = lambda i: ()
        self._cache: dict[int, tuple[Cell, ...]] = {}

    # --- data --------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def cursor_key(self) -> str | None:
        """The row key under the cursor (None on an empty table)."""
        return self._keys[self.cursor_row] if 0 <= self.cursor_row < len(self._keys) else None

    def set_rows(self, keys: list[str], formatter: RowFormatter) -> None:
        """Show `keys` in this order; `formatter(i)` builds row i's cells when it is seen."""
        old = self.cursor_key
        self._keys, self._format, self._cache = keys, formatter, {}
        self._index = {}
        self.virtual_size = Size(sum(self.widths) + 2 * PAD * len(self.widths), len(keys) + 1)
        row = self.row_of(old) if old is not None else None
        self._set_cursor(row if row is not None else min(self.cursor_row,
                                                          max(len(keys) - 1, 0)))
        self.refresh()

    def row_of(self, key: str) -> int | None:
        if not self._index and self._keys:
            self._index = {k: i for i, k in enumerate(self._keys)}
        return self._index.get(key)

    def get_row_at(self, i: int) -> tuple[Cell, ...]:
        cells = self._cache.get(i)
        if cells is None:
            cells = self._format(i)
            if len(self._cache) > 512:
                self._cache.clear()  # bounded: only the visible rows come back
            self._cache[i] = cells
        return cells

    def set_sort(self, key: str, *, reverse: bool | None = None) -> None:
        """Sort by `key` (the owner re-orders on SortChanged): the same column flips, a new
        numeric one starts descending (biggest, hottest, busiest on top)."""
        if reverse is None:
            reverse = not self.reverse if key == self.sort_by else key in self.numeric
        self.sort_by, self.reverse = key, reverse
        self.refresh()
        self.post_message(self.SortChanged(self))

    def cycle_sort(self) -> None:
        """`s`: the next column, in its natural first direction."""
        keys = [c.key for c in self.specs]
        nxt = keys[(keys.index(self.sort_by) + 1) % len(keys)]
        self.set_sort(nxt, reverse=nxt in self.numeric)

    # --- cursor ------------------------------------------------------------------------
    def _set_cursor(self, row: int) -> None:
        row = max(0, min(row, len(self._keys) - 1))
        changed = row != self.cursor_row
        self.cursor_row = row
        body = max(1, self.size.height - 1)
        if row < self.scroll_offset.y:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= self.scroll_offset.y + body:
            self.scroll_to(y=row - body + 1, animate=False, immediate=True)
        if changed or self.cursor_key != self._last_key:
            self._last_key = self.cursor_key
            self.post_message(self.Highlighted(self, self.cursor_key))

    def move_to(self, key: str) -> None:
        row = self.row_of(key)
        if row is not None:
            self._set_cursor(row)

    def action_move(self, delta: int) -> None:
        self._set_cursor(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self._set_cursor(self.cursor_row + direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        self._set_cursor(len(self._keys) - 1 if end else 0)

    def action_pan(self, columns: int) -> None:
        """←/→: the columns that do not fit (TYPE, WHERE at 80 columns) scroll into view."""
        self.scroll_to(x=max(0, self.scroll_offset.x + columns), animate=False)

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = event.x + self.scroll_offset.x
            for spec, w in zip(self.specs, self.widths, strict=True):
                if x < w + 2 * PAD:
                    self.post_message(self.HeaderClicked(self, spec.key))
                    self.set_sort(spec.key)
                    return
                x -= w + 2 * PAD
            return
        row = self.scroll_offset.y + event.y - 1
        if 0 <= row < len(self._keys):
            self._set_cursor(row)
            if event.chain >= 2:
                self.action_select()

    # --- rendering ---------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        x0 = self.scroll_offset.x
        if y == 0:
            strip = self._header()
        else:
            row = self.scroll_offset.y + y - 1
            if row >= len(self._keys):
                return Strip.blank(width)
            strip = self._row(row)
        return strip.crop(x0, x0 + width).extend_cell_length(width)

    def _header(self) -> Strip:
        segs: list[Segment] = []
        bold = Style(bold=True)
        for spec, w in zip(self.specs, self.widths, strict=True):
            arrow = ("▼" if self.reverse else "▲") if spec.key == self.sort_by else ""
            segs.append(Segment(" " * PAD + (arrow + spec.label)[:w].ljust(w) + " " * PAD, bold))
        return Strip(segs)

    def _row(self, row: int) -> Strip:
        cells = self.get_row_at(row)
        cursor = row == self.cursor_row
        base = (self.get_component_rich_style("virtual-table--cursor") if cursor and
                self.has_focus else Style(reverse=True) if cursor else
                Style(bgcolor="#202020" if self.app.current_theme.dark else "#eeeeee")
                if row % 2 else Style())
        segs: list[Segment] = []
        for cell, w in zip(cells, self.widths, strict=True):
            text = cell.__rich__().copy() if isinstance(cell.text, Text) else Text(
                cell.text, style=cell.style)
            text.truncate(w, overflow="ellipsis")
            if text.justify == "right":
                text.pad_left(w - text.cell_len)
            else:
                text.pad_right(w - text.cell_len)
            segs.append(Segment(" " * PAD, base))
            segs.extend(Segment(s.text, base + s.style if s.style else base)
                        for s in text.render(self.app.console))
            segs.append(Segment(" " * PAD, base))
        return Strip(segs)

    COMPONENT_CLASSES: ClassVar[set[str]] = {"virtual-table--cursor"}
    DEFAULT_CSS = """
    VirtualTable { height: 1fr; }
    VirtualTable > .virtual-table--cursor { background: $block-cursor-background;
                                            color: $block-cursor-foreground;
                                            text-style: $block-cursor-text-style; }
    """
