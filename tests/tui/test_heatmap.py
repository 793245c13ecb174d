"""The heatmap shows the whole fleet: colour for every chip, health overlaid, selection
outlined. At 40,000 chips (dozens per cell) one failed chip must still stand out."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from rich.color import Color
from textual.app import App, ComposeResult

from tests.tui.fakes import FakeSource
from trnmon.api.models import FleetSummary
from trnmon.tui.widgets.heatmap import HeatmapView


class HeatmapApp(App[None]):
    """Just the widget, in a real Textual app, at a real terminal size."""

    def compose(self) -> ComposeResult:
        yield HeatmapView(id="heatmap")


def grey(color: Color | None) -> bool:
    if color is None:
        return True
    r, g, b = color.get_truecolor()
    return max(r, g, b) - min(r, g, b) < 24


def render(summary: FleetSummary, mask: np.ndarray | None,
           size: tuple[int, int]) -> tuple[HeatmapView, list[list[tuple[str, object]]]]:
    app = HeatmapApp()
    lines: list[list[tuple[str, object]]] = []
    view: list[HeatmapView] = []

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            hm = app.query_one(HeatmapView)
            hm.set_heatmap(summary.heatmap)
            hm.set_highlight(mask)
            await pilot.pause()
            for y in range(hm.size.height):
                chars: list[tuple[str, object]] = []
                for seg in hm.render_line(y):
                    chars.extend((ch, seg.style) for ch in seg.text)
                lines.append(chars)
            view.append(hm)

    asyncio.run(main())
    return view[0], lines


@pytest.fixture(scope="module")
def big() -> tuple[FakeSource, FleetSummary]:
    fake = FakeSource("ultracluster-40k", seed=7, ticks=1)
    fake.engine.inject("hbm_ecc_uncorrected", chip=20_011)
    fake.engine.inject("node_loss", node=100)
    return fake, fake.advance(1)


@pytest.mark.slow  # a 40,000-chip engine
def test_failed_chip_stands_out_at_40k_and_unselected_chips_are_coloured(
        big: tuple[FakeSource, FleetSummary]) -> None:
    fake, summary = big
    states = summary.heatmap.decode_states()
    assert states[20_011] == 4  # failed
    node_chips = fake.engine.topo.node_chips(3)
    mask = np.zeros(summary.heatmap.chips, dtype=bool)
    mask[node_chips] = True
    hm, lines = render(summary, mask, (80, 12))  # the 80×24 fleet pane
    assert hm.chips_per_cell > 10  # really aggregated
    grid = lines[:-1]
    # Unselected chips: coloured (not grey), with more than one colour.
    unselected = {style.color for row in grid for ch, style in row  # type: ignore[attr-defined]
                  if ch == "▀" and not style.underline}  # type: ignore[attr-defined]
    assert len(unselected) > 1 and not all(grey(c) for c in unselected)
    # The selection is outlined (under- and overline), not shown by greying the rest.
    assert any(style.underline and style.overline  # type: ignore[attr-defined]
               for row in grid for _, style in row)
    # The failed chip's cell is a glyph in the theme's error colour, unlike any healthy cell.
    failed = [(x, y) for y, row in enumerate(grid) for x, (ch, _) in enumerate(row)
              if ch == "✕"]
    assert failed, "the failed chip is not visible"
    x, y = failed[0]
    assert hm.state_at(x, y) == "failed"
    style = grid[y][x][1]
    healthy_bg = {s.bgcolor for row in grid for ch, s in row if ch == "▀"}  # type: ignore[attr-defined]
    assert style.bgcolor not in healthy_bg  # type: ignore[attr-defined]
    # The lost node's chips ("?") are visible too, and the legend names every state.
    assert any(ch == "?" for row in grid for ch, _ in row)
    legend = "".join(ch for ch, _ in lines[-1])
    for word in ("100 % util", "throttled", "link", "hung", "failed", "lost", "selected"):
        assert word in legend, legend


def test_worst_state_wins_in_a_cell_and_legend_has_units() -> None:
    fake = FakeSource("tiny", seed=7, ticks=2)
    fake.engine.inject("chip_hang", chip=5)
    fake.engine.inject("hbm_ecc_uncorrected", chip=5)
    summary = fake.advance(1)
    hm, lines = render(summary, None, (40, 8))
    glyphs = {ch for row in lines[:-1] for ch, _ in row}
    assert "✕" in glyphs and "!" not in glyphs  # failed beats hung on the same chip
    hm.metric = "temperature"
    assert "95 °C" in "".join(s.text for s in hm._legend(80))
