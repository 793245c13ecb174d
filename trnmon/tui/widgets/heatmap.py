"""Every chip of the fleet as a coloured cell, drawn with Textual's line API.

Chips are laid out in topology order (AZ, rack, UltraServer, node, device), two cells per
character using the upper half block (foreground = top cell, background = bottom cell).
When the fleet has more chips than the widget has cells, each cell aggregates a run of
consecutive chips (mean; max for temperature, where the hottest chip is what matters), so
40,000 chips stay one readable picture. Strips are built once per data change and cached.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.strip import Strip
from textual.widget import Widget

from trnmon.api.models import Heatmap
from trnmon.tui.messages import ChipClicked

LEVELS = 24
MAX_SIDE = 8
NODE_CHIPS = 16  # trn2/trn1 nodes; inf2 nodes (12) simply wrap
# Display range per metric (ratio or Celsius) mapped onto the palette.
SCALE = {"utilization": (0.0, 1.0), "hbm": (0.0, 1.0), "temperature": (25.0, 95.0),
         "power": (0.0, 1.0)}


def _palette() -> list[str]:
    """Green -> yellow -> red, like nvitop's thresholds but continuous."""
    out = []
    for i in range(LEVELS):
        x = i / (LEVELS - 1)
        r = int(255 * min(1.0, 2 * x)) if x > 0.35 else int(90 * x / 0.35)
        g = int(200 * min(1.0, 2 * (1 - x))) if x > 0.5 else 160 + int(60 * x)
        out.append(f"#{r:02x}{g:02x}30")
    return out


PALETTE = _palette()
DIMMED = [f"#{v:02x}{v:02x}{v:02x}" for v in np.linspace(40, 110, LEVELS).astype(int)]
EMPTY = -1


class HeatmapView(Widget):
    """A chip heatmap; `metric` picks the value, `highlight` (chip mask) dims the rest."""

    DEFAULT_CSS = "HeatmapView { height: 1fr; min-height: 3; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.metric = "utilization"
        self._heatmap: Heatmap | None = None
        self._values: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self._highlight: npt.NDArray[np.bool_] | None = None
        self._levels: npt.NDArray[np.int16] = np.zeros((0, 0), dtype=np.int16)
        self._lit: npt.NDArray[np.bool_] = np.zeros((0, 0), dtype=bool)
        self._per_cell = 1
        self._side = 1  # a chip's square in columns and half-rows (small fleets: > 1)
        self._per_row = 1
        self._strips: dict[int, Strip] = {}
        self._layout_for: tuple[int, int, int] = (0, 0, 0)

    # --- data ----------------------------------------------------------------------------
    @property
    def chips(self) -> int:
        return int(self._values.shape[0])

    @property
    def chips_per_cell(self) -> int:
        return self._per_cell

    def set_heatmap(self, heatmap: Heatmap) -> None:
        self._heatmap = heatmap
        self._values = heatmap.decode(self.metric)
        self._invalidate()

    def set_metric(self, metric: str) -> None:
        self.metric = metric
        if self._heatmap is not None:
            self._values = self._heatmap.decode(metric)
        self._invalidate()

    def set_highlight(self, mask: npt.NDArray[np.bool_] | None) -> None:
        self._highlight = mask
        self._invalidate()

    def _invalidate(self) -> None:
        self._layout_for = (0, 0, 0)
        self._strips.clear()
        self.refresh()

    def on_resize(self) -> None:
        self._invalidate()

    # --- layout ------------------------------------------------------------------------
    def _layout(self) -> None:
        width, height = self.size.width, self.size.height
        key = (width, height, self.chips)
        if key == self._layout_for or width <= 0 or height <= 0:
            return
        self._layout_for = key
        n = self.chips
        half_rows = 2 * height  # each character holds two cells (▀: top and bottom)
        k = max(1, math.ceil(n / (width * half_rows))) if n else 1
        side, per_row = _block_side(n, width, half_rows) if k == 1 else (1, width)
        chip_rows = max(1, math.ceil(math.ceil(n / k) / per_row)) if n else 1
        self._per_cell, self._side, self._per_row = k, side, per_row

        lo, hi = SCALE[self.metric]
        padded = np.full(chip_rows * per_row * k, np.nan, dtype=np.float32)
        padded[:n] = self._values
        grid = padded.reshape(chip_rows * per_row, k)
        # Padding cells are all-NaN: their 'mean of empty slice' warning is expected.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            agg = np.nanmax(grid, axis=1) if self.metric == "temperature" else np.nanmean(
                grid, axis=1)
        scaled = np.clip((agg - lo) / (hi - lo), 0.0, 1.0) * (LEVELS - 1)
        levels = np.where(np.isnan(agg), EMPTY, np.rint(np.nan_to_num(scaled))).astype(np.int16)
        self._levels = self._blow_up(levels.reshape(chip_rows, per_row), EMPTY)
        if self._highlight is not None and self._highlight.shape[0] == n:
            hl = np.zeros(chip_rows * per_row * k, dtype=bool)
            hl[:n] = self._highlight
            lit = hl.reshape(chip_rows * per_row, k).any(axis=1).reshape(chip_rows, per_row)
            self._lit = self._blow_up(lit, False)
        else:
            self._lit = np.ones(self._levels.shape, dtype=bool)

    def _blow_up(self, cells: npt.NDArray[Any], fill: Any) -> npt.NDArray[Any]:
        """Each cell becomes a side x side square; pad to the width and an even row count."""
        side, width = self._side, self.size.width
        grid = np.repeat(np.repeat(cells, side, axis=0), side, axis=1)
        if side >= 3:  # a gap after every chip, so big blocks read as separate chips
            grid[side - 1::side, :] = fill
            grid[:, side - 1::side] = fill
        rows = max(2, grid.shape[0] + grid.shape[0] % 2)
        out = np.full((rows, width), fill, dtype=grid.dtype)
        out[: grid.shape[0], : grid.shape[1]] = grid
        return out

    def cell_chip(self, x: int, y: int) -> int | None:
        """The first chip under character (x, y), or None past the last chip."""
        self._layout()
        side = self._side
        half = 2 * y if side < 3 or (2 * y) % side != side - 1 else 2 * y + 1  # skip a gap
        col, row = x // side, half // side
        if not 0 <= x < self.size.width or col >= self._per_row:
            return None
        chip = (row * self._per_row + col) * self._per_cell
        return chip if chip < self.chips else None

    # --- rendering ---------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        self._layout()
        cached = self._strips.get(y)
        if cached is not None:
            return cached
        width = self.size.width
        top_row, bottom_row = 2 * y, 2 * y + 1
        if top_row >= self._levels.shape[0]:
            strip = Strip.blank(width)
        else:
            top, bottom = self._levels[top_row].tolist(), self._levels[bottom_row].tolist()
            lit_t, lit_b = self._lit[top_row].tolist(), self._lit[bottom_row].tolist()
            segments: list[Segment] = []
            run: tuple[str, Style] | None = None
            run_len = 0
            for x in range(width):
                cell = _cell(top[x], lit_t[x], bottom[x], lit_b[x])
                if cell is run:
                    run_len += 1
                    continue
                if run is not None:
                    segments.append(Segment(run[0] * run_len, run[1]))
                run, run_len = cell, 1
            if run is not None:
                segments.append(Segment(run[0] * run_len, run[1]))
            strip = Strip(segments, width)
        self._strips[y] = strip
        return strip

    def on_click(self, event: events.Click) -> None:
        chip = self.cell_chip(event.x, event.y)
        if chip is not None:
            self.post_message(ChipClicked(chip))


_CELLS: dict[tuple[int, bool, int, bool], tuple[str, Style]] = {}


def _colour(level: int, lit: bool) -> str | None:
    if level == EMPTY:
        return None
    return PALETTE[level] if lit else DIMMED[level]


def _cell(top: int, lit_t: bool, bottom: int, lit_b: bool) -> tuple[str, Style]:
    """Glyph and style for one character holding two cells; empty cells stay background."""
    key = (top, lit_t, bottom, lit_b)
    cell = _CELLS.get(key)
    if cell is None:
        # Identity-cached so that equal neighbours merge into one segment by `is`.
        if top == EMPTY and bottom == EMPTY:
            cell = (" ", Style())
        elif top == EMPTY:
            cell = ("▄", Style(color=_colour(bottom, lit_b)))
        else:
            cell = ("▀", Style(color=_colour(top, lit_t), bgcolor=_colour(bottom, lit_b)))
        _CELLS[key] = cell
    return cell



def _block_side(chips: int, width: int, half_rows: int) -> tuple[int, int]:
    """(side, chips per row): the biggest square (in columns and half-rows) per chip that
    still fits every chip, so a small fleet fills its pane instead of a thin stripe; rows
    hold whole 16-chip nodes where the width allows, so each node reads as a row."""
    for side in range(MAX_SIDE, 0, -1):
        per_row = width // side
        if per_row >= NODE_CHIPS:
            per_row -= per_row % NODE_CHIPS
        if per_row and math.ceil(chips / per_row) * side <= half_rows:
            return side, per_row
    return 1, width
