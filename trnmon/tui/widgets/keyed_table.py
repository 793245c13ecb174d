"""A DataTable that is diffed, not rebuilt: keyed rows, update_cell only on change.

Callers hand `sync()` the full set of (already filtered) rows as `Cell`s each refresh; the
table removes rows that went away, adds new ones, updates only cells whose displayed text
or style changed, and re-sorts only when the sort column changed or rows came and went
(Dolphie's habit). The cursor stays on the same row key across sorts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

SegmentLines = list[list[Segment]]
CELL_CACHE = 20_000


@dataclass(frozen=True, slots=True)
class Cell:
    """What a cell shows plus the value it sorts by (not part of equality)."""

    text: str | Text
    style: str = ""
    sort: float | str = field(default="", compare=False)

    def __rich__(self) -> Text:
        if isinstance(self.text, Text):
            return self.text
        return Text(self.text, style=self.style, no_wrap=True, end="")


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    justify: str = "left"


def num(value: float, text: str, style: str = "") -> Cell:
    return Cell(Text(text, style=style, justify="right", no_wrap=True, end=""), sort=value)


class KeyedTable(DataTable[Cell]):
    def __init__(self, columns: Iterable[Column], *, sort_by: str | None = None,
                 reverse: bool = False, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.specs = list(columns)
        self.sort_by = sort_by or self.specs[0].key
        self.reverse = reverse
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._cells: dict[tuple[object, ...], tuple[object, SegmentLines]] = {}
        self._sorted_for: tuple[str, bool] | None = None

    def on_mount(self) -> None:
        for c in self.specs:
            self.add_column(self._label(c), key=c.key, width=c.width)

    def _label(self, c: Column) -> Text:
        arrow = (" ▼" if self.reverse else " ▲") if c.key == self.sort_by else ""
        return Text(c.label + arrow, style="bold")

    # --- the diff ----------------------------------------------------------------------
    def sync(self, rows: Mapping[str, tuple[Cell, ...]]) -> int:
        """Make the table show `rows` (key -> cells in column order); returns cells written."""
        keys = [c.key for c in self.specs]
        sort_i = keys.index(self.sort_by)
        cursor_key = self.cursor_key
        structural = False
        written = 0
        for gone in [k for k in self._shown if k not in rows]:
            self.remove_row(gone)
            del self._shown[gone]
            structural = True
        resort = False
        for key, cells in rows.items():
            old = self._shown.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                structural = True
                written += len(cells)
            elif old != cells:
                for i, (a, b) in enumerate(zip(old, cells, strict=True)):
                    if a != b:
                        self.update_cell(key, keys[i], b)
                        written += 1
                        resort = resort or i == sort_i
            else:
                continue
            self._shown[key] = cells
        if structural or resort or self._sorted_for != (self.sort_by, self.reverse):
            self._sort()
            if cursor_key is not None and cursor_key in self._shown:
                self.move_cursor(row=self.get_row_index(cursor_key), animate=False)
        return written

    def _sort(self) -> None:
        self._sorted_for = (self.sort_by, self.reverse)
        self.sort(self.sort_by, key=lambda cell: cell.sort, reverse=self.reverse)

    # --- sorting by the operator ---------------------------------------------------------
    def set_sort(self, key: str, *, reverse: bool | None = None) -> None:
        if reverse is None:
            reverse = not self.reverse if key == self.sort_by else self.reverse
        old = self.sort_by
        self.sort_by, self.reverse = key, reverse
        for c in self.specs:
            if c.key in (old, key):
                self.columns[ColumnKey(c.key)].label = self._label(c)
        cursor_key = self.cursor_key
        self._sort()
        if cursor_key is not None:
            self.move_cursor(row=self.get_row_index(cursor_key), animate=False)

    def cycle_sort(self) -> None:
        keys = [c.key for c in self.specs]
        self.set_sort(keys[(keys.index(self.sort_by) + 1) % len(keys)], reverse=self.reverse)

    # --- rendering ---------------------------------------------------------------------
    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> SegmentLines:
        """DataTable re-renders every visible cell after any update (its cache key holds an
        update counter); keyed by what the cell shows instead, only changed cells render."""
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor,
                                        hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor,
                                        hover)
        value = self._data[row_key][column_key]
        key = (row_index, column_index, base_style, width, cursor, hover,
               self._show_hover_cursor, self._pseudo_class_state)
        hit = self._cells.get(key)
        # sync() replaces a cell object only when what it shows changed, so identity is
        # the test (the entry holds the object, so its id cannot be reused meanwhile).
        if hit is not None and hit[0] is value:
            return hit[1]
        lines = super()._render_cell(row_index, column_index, base_style, width, cursor,
                                     hover)
        if len(self._cells) >= CELL_CACHE:
            self._cells.clear()  # a bound: the next repaint refills it
        self._cells[key] = (value, lines)
        return lines

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.set_sort(str(event.column_key.value))

    @property
    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:
            return None
        return None if row_key.value is None else str(row_key.value)
