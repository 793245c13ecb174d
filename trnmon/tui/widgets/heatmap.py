"""Every chip of the fleet as a coloured cell, drawn with Textual's line API.

Chips are laid out in topology order (AZ, rack, UltraServer, node, device), two cells per
character using the upper half block (foreground = top cell, background = bottom cell).
When the fleet has more chips than the widget has cells, each cell aggregates a run of
consecutive chips (mean; max for temperature, where the hottest chip is what matters), so
40,000 chips stay one readable picture.

Whatever the metric, chip health is overlaid: a character holding a failed, lost, hung,
throttled or link-degraded chip shows that state's glyph in its colour (the worst state in
the character wins, so one failed chip among 52 aggregated ones still shows). The selection
(the highlighted row's chips) is outlined with an under- and overline, never by greying the
rest. The last line is the legend: the colour scale with its units, then the glyphs.
Colours come from the app's theme (success → warning → error).
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
from textual.color import Color
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from trnmon.api.models import HEAT_STATES, Heatmap
from trnmon.tui.messages import ChipClicked

LEVELS = 24
MAX_SIDE = 8
NODE_CHIPS = 16  # trn2/trn1 nodes; inf2 nodes (12) simply wrap
# Display range per metric mapped onto the palette, with the legend's units.
SCALE = {"utilization": (0.0, 1.0), "hbm": (0.0, 1.0), "temperature": (25.0, 95.0),
         "power": (0.0, 1.0)}
LEGEND = {"utilization": ("0", "100 % util"), "hbm": ("0", "100 % of HBM"),
          "temperature": ("25", "95 °C"), "power": ("0", "100 % of TDP")}
# state code -> (glyph, theme colour name, legend word); code 0 ("ok") draws no glyph.
STATE_GLYPHS: dict[int, tuple[str, str, str]] = {
    HEAT_STATES.index("throttled"): ("↓", "warning", "throttled"),
    HEAT_STATES.index("link"): ("≠", "secondary", "link"),
    HEAT_STATES.index("hung"): ("!", "warning", "hung"),
    HEAT_STATES.index("failed"): ("✕", "error", "failed"),
    HEAT_STATES.index("lost"): ("?", "error", "lost"),
}
EMPTY = -1


def palette(low: str, mid: str, high: str, levels: int = LEVELS) -> list[str]:
    """`levels` hex colours blended low → mid → high."""
    a, b, c = Color.parse(low), Color.parse(mid), Color.parse(high)
    out = []
    for i in range(levels):
        x = i / (levels - 1)
        col = a.blend(b, x * 2) if x <= 0.5 else b.blend(c, (x - 0.5) * 2)
        out.append(col.hex)
    return out


class HeatmapView(Widget):
    """A chip heatmap with a health overlay and a legend; `metric` picks the colour."""

    DEFAULT_CSS = "HeatmapView { height: 1fr; min-height: 3; }"
    metric: reactive[str] = reactive("utilization")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._heatmap: Heatmap | None = None
        self._values: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self._states: npt.NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)
        self._highlight: npt.NDArray[np.bool_] | None = None
        self._levels: npt.NDArray[np.int16] = np.zeros((0, 0), dtype=np.int16)
        self._cell_states: npt.NDArray[np.uint8] = np.zeros((0, 0), dtype=np.uint8)
        self._lit: npt.NDArray[np.bool_] = np.zeros((0, 0), dtype=bool)
        self._per_cell = 1
        self._side = 1  # a chip's square in columns and half-rows (small fleets: > 1)
        self._per_row = 1
        self._strips: dict[int, Strip] = {}
        self._layout_for: tuple[int, int, int] = (0, 0, 0)
        self._styles: dict[tuple[int, int, int, bool], tuple[str, Style]] = {}
        self._colours: dict[str, str] = {}

    # --- data ----------------------------------------------------------------------------
    @property
    def chips(self) -> int:
        return int(self._values.shape[0])

    @property
    def chips_per_cell(self) -> int:
        return self._per_cell

    def set_heatmap(self, heatmap: Heatmap) -> None:
        """New data (same metric)."""
        self._heatmap = heatmap
        self._values = heatmap.decode(self.metric)
        self._states = heatmap.decode_states()
        self._invalidate()

    def watch_metric(self, metric: str) -> None:
        if self._heatmap is not None:
            self._values = self._heatmap.decode(metric)
        self._invalidate()

    def set_highlight(self, mask: npt.NDArray[np.bool_] | None) -> None:
        """Chips to outline (None: no selection)."""
        self._highlight = mask
        self._invalidate()

    def _invalidate(self) -> None:
        self._layout_for = (0, 0, 0)
        self._strips.clear()
        self.refresh()

    def on_resize(self) -> None:
        self._invalidate()

    def _on_theme_change(self) -> None:
        self._styles.clear()
        self._colours.clear()
        self._invalidate()

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda _: self._on_theme_change(), init=False)

    # --- colours -------------------------------------------------------------------------
    def _theme(self, name: str) -> str:
        col = self._colours.get(name)
        if col is None:
            theme = self.app.current_theme
            col = {"success": theme.success, "warning": theme.warning, "error": theme.error,
                   "secondary": theme.secondary, "accent": theme.accent}.get(name) or "#888888"
            if name == "secondary":  # the link glyph must read on any cell colour
                col = "#3fa7ff" if theme.dark else "#004578"
            self._colours[name] = col
        return col

    def _palette(self) -> list[str]:
        key = "palette"
        if key not in self._colours:
            self._colours[key] = "|".join(palette(self._theme("success"),
                                                  self._theme("warning"), self._theme("error")))
        return self._colours[key].split("|")

    # --- layout ------------------------------------------------------------------------
    @property
    def grid_height(self) -> int:
        return max(1, self.size.height - 1)  # the last line is the legend

    def _layout(self) -> None:
        width, height = self.size.width, self.grid_height
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
        size = chip_rows * per_row * k
        padded = np.full(size, np.nan, dtype=np.float32)
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
        states = np.zeros(size, dtype=np.uint8)
        if self._states.shape[0] == n:
            states[:n] = self._states
        worst = states.reshape(chip_rows * per_row, k).max(axis=1)  # the worst state wins
        self._cell_states = self._blow_up(worst.reshape(chip_rows, per_row), 0)
        lit = np.zeros(size, dtype=bool)
        if self._highlight is not None and self._highlight.shape[0] == n:
            lit[:n] = self._highlight
        self._lit = self._blow_up(lit.reshape(chip_rows * per_row, k).any(axis=1)
                                  .reshape(chip_rows, per_row), False)

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

    def state_at(self, x: int, y: int) -> str:
        """The HEAT_STATES name drawn at character (x, y) (the worst of its two cells)."""
        self._layout()
        if 2 * y + 1 >= self._cell_states.shape[0] or x >= self._cell_states.shape[1]:
            return "ok"
        return HEAT_STATES[int(max(self._cell_states[2 * y, x],
                                   self._cell_states[2 * y + 1, x]))]

    # --- rendering ---------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        self._layout()
        cached = self._strips.get(y)
        if cached is not None:
            return cached
        width = self.size.width
        if y == self.size.height - 1 and self.size.height >= 2:
            strip = self._legend(width)
        elif 2 * y >= self._levels.shape[0]:
            strip = Strip.blank(width)
        else:
            strip = self._grid_line(y, width)
        self._strips[y] = strip
        return strip

    def _grid_line(self, y: int, width: int) -> Strip:
        t, b = 2 * y, 2 * y + 1
        top, bottom = self._levels[t].tolist(), self._levels[b].tolist()
        state = np.maximum(self._cell_states[t], self._cell_states[b]).tolist()
        lit = (self._lit[t] | self._lit[b]).tolist()
        segments: list[Segment] = []
        run: tuple[str, Style] | None = None
        run_len = 0
        for x in range(width):
            cell = self._cell(top[x], bottom[x], state[x], lit[x])
            if cell is run:
                run_len += 1
                continue
            if run is not None:
                segments.append(Segment(run[0] * run_len, run[1]))
            run, run_len = cell, 1
        if run is not None:
            segments.append(Segment(run[0] * run_len, run[1]))
        return Strip(segments, width)

    def _cell(self, top: int, bottom: int, state: int, lit: bool) -> tuple[str, Style]:
        """Glyph and style for one character; identity-cached so equal neighbours merge."""
        key = (top, bottom, state, lit)
        cell = self._styles.get(key)
        if cell is not None:
            return cell
        pal = self._palette()
        outline = Style(underline=True, overline=True) if lit else Style()
        if top == EMPTY and bottom == EMPTY:
            cell = (" ", Style())
        elif state in STATE_GLYPHS:
            glyph, colour, _ = STATE_GLYPHS[state]
            under = pal[max(top, bottom)]
            cell = (glyph, Style(color=self._theme(colour) if colour != "error" else "#ffffff",
                                 bgcolor=under if colour != "error" else self._theme("error"),
                                 bold=True) + outline)
        elif top == EMPTY:
            cell = ("▄", Style(color=pal[bottom]) + outline)
        else:
            cell = ("▀", Style(color=pal[top], bgcolor=pal[bottom] if bottom != EMPTY else None)
                    + outline)
        self._styles[key] = cell
        return cell

    def _legend(self, width: int) -> Strip:
        lo, hi = LEGEND[self.metric]
        pal = self._palette()
        segs = [Segment(f"{lo} ", Style(dim=True))]
        segs += [Segment("█", Style(color=c)) for c in pal[:: max(1, LEVELS // 12)]]
        segs.append(Segment(f" {hi}", Style(dim=True)))
        short = width < 100  # 80 columns: every state still named, just shorter
        for code in sorted(STATE_GLYPHS):
            cell = self._cell(LEVELS // 2, LEVELS // 2, code, False)
            word = STATE_GLYPHS[code][2]
            segs += [Segment(" " if short else "  "), Segment(cell[0], cell[1]),
                     Segment(word if short else f" {word}", Style(dim=True))]
        segs += [Segment(" " if short else "  "),
                 Segment("▀", Style(color=pal[0], underline=True, overline=True)),
                 Segment("selected" if short else " selected", Style(dim=True))]
        return Strip(segs).crop(0, width).extend_cell_length(width)

    def on_click(self, event: events.Click) -> None:
        chip = self.cell_chip(event.x, event.y)
        if chip is not None:
            self.post_message(ChipClicked(chip))


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
