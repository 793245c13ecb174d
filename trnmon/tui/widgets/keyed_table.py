"""A DataTable that is diffed, not rebuilt: keyed rows, update_cell only on change.

Callers hand `sync()` the full set of (already filtered) rows as `Cell`s each refresh; the
table removes rows that went away, adds new ones, updates only cells whose displayed text
or style changed, and re-sorts only when the sort column changed or rows came and went
(Dolphie's habit). The cursor stays on the same row key across sorts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey


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
    """A column: key, header label and width (widened to fit the label and sort arrow)."""

    key: str
    label: str
    width: int
    justify: str = "left"


def num(value: float, text: str, style: str = "") -> Cell:
    """A right-aligned numeric cell that sorts by `value`."""
    return Cell(Text(text, style=style, justify="right", no_wrap=True, end=""), sort=value)


class KeyedTable(DataTable[Cell]):
    """A row-cursor DataTable fed whole row sets by `sync()` and diffed against the last."""

    def __init__(self, columns: Iterable[Column], *, sort_by: str | None = None,
                 reverse: bool = False, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.specs = list(columns)
        self.sort_by = sort_by or self.specs[0].key
        self.reverse = reverse
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._sorted_for: tuple[str, bool] | None = None

    def on_mount(self) -> None:
        for c in self.specs:
            self.add_column(self._label(c), key=c.key, width=max(c.width, len(c.label) + 1))

    def _label(self, c: Column) -> Text:
        # The arrow goes first so a narrow column can never clip it.
        arrow = ("▼" if self.reverse else "▲") if c.key == self.sort_by else ""
        return Text(arrow + c.label, style="bold")

    # --- the diff ----------------------------------------------------------------------
    def sync(self, rows: Mapping[str, tuple[Cell, ...]]) -> int:
        """Make the table show `rows` (key -> cells in column order); returns cells written."""
        keys = [c.key for c in self.specs]
        sort_i = keys.index(self.sort_by)
        cursor_key = self.cursor_key
        structural = False
        written = 0
        gone_keys = [k for k in self._shown if k not in rows]
        if len(gone_keys) > len(self._shown) // 2 and len(gone_keys) > 32:
            # Most rows change (a new grouping, a filter): one clear and a sorted bulk add
            # beats thousands of single removes and inserts.
            return self._rebuild(rows, cursor_key, sort_i)
        for gone in gone_keys:
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
            elif old != cells or old[sort_i].sort != cells[sort_i].sort:
                # A sort value can move while the text stays (HEALTH: "healthy" but busier).
                for i, (a, b) in enumerate(zip(old, cells, strict=True)):
                    if a != b or (i == sort_i and a.sort != b.sort):
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

    def _rebuild(self, rows: Mapping[str, tuple[Cell, ...]], cursor_key: str | None,
                 sort_i: int) -> int:
        self.clear()
        ordered = sorted(rows.items(), key=lambda kv: kv[1][sort_i].sort, reverse=self.reverse)
        for key, cells in ordered:  # already in order: no sort pass after
            self.add_row(*cells, key=key)
        self._shown = dict(ordered)
        self._sorted_for = (self.sort_by, self.reverse)
        if cursor_key is not None and cursor_key in self._shown:
            self.move_cursor(row=self.get_row_index(cursor_key), animate=False)
        return sum(len(c) for c in rows.values())

    def _sort(self) -> None:
        self._sorted_for = (self.sort_by, self.reverse)
        self.sort(self.sort_by, key=lambda cell: cell.sort, reverse=self.reverse)

    # --- sorting by the operator ---------------------------------------------------------
    def set_sort(self, key: str, *, reverse: bool | None = None) -> None:
        """Sort by column `key`; by default the same column flips, and a new numeric
        column starts descending (the biggest, hottest, busiest on top)."""
        if reverse is None:
            reverse = not self.reverse if key == self.sort_by else self._numeric(key)
        old = self.sort_by
        self.sort_by, self.reverse = key, reverse
        for c in self.specs:
            if c.key in (old, key):
                self.columns[ColumnKey(c.key)].label = self._label(c)
        cursor_key = self.cursor_key
        self._sort()
        if cursor_key is not None:
            self.move_cursor(row=self.get_row_index(cursor_key), animate=False)

    def _numeric(self, key: str) -> bool:
        i = [c.key for c in self.specs].index(key)
        first = next(iter(self._shown.values()), None)
        return first is not None and not isinstance(first[i].sort, str)

    def cycle_sort(self) -> None:
        """`s`: the next column, in its natural first direction."""
        keys = [c.key for c in self.specs]
        nxt = keys[(keys.index(self.sort_by) + 1) % len(keys)]
        self.set_sort(nxt, reverse=self._numeric(nxt))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.set_sort(str(event.column_key.value))

    @property
    def cursor_key(self) -> str | None:
        """The row key under the cursor (None on an empty table)."""
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:
            return None
        return None if row_key.value is None else str(row_key.value)
