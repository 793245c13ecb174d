"""What every neuron-top view shares: header, filter bar, footer, and the frame hook.

A view declares the Focus it needs (`wanted_focus`) and draws a Frame in `show()`; the app
calls `show()` only on the visible screen, inside `batch_update()`, so hidden views cost
nothing per tick and redraw from the latest frame when they come back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input

from trnmon.tui.messages import Focus, Frame
from trnmon.tui.widgets.header import FleetHeader

if TYPE_CHECKING:
    from trnmon.tui.app import NeuronTopApp

COMPACT_WIDTH, COMPACT_HEIGHT = 120, 34


class DataScreen(Screen[None]):
    VIEW = "view"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""

    @property
    def neuron_app(self) -> NeuronTopApp:
        from trnmon.tui.app import NeuronTopApp

        assert isinstance(self.app, NeuronTopApp)
        return self.app

    def compose_header(self) -> ComposeResult:
        yield FleetHeader(id="header")

    def compose_footer(self) -> ComposeResult:
        yield Input(placeholder="filter (Enter keeps, Escape clears)", id="filter")
        yield Footer()

    # --- the frame hook ----------------------------------------------------------------
    def wanted_focus(self) -> Focus:
        return Focus()

    def show(self, frame: Frame) -> None:
        app = self.neuron_app
        self.query_one(FleetHeader).show(frame, paused=app.paused,
                                         interval=app.poller.interval, view=self.VIEW)
        self.draw(frame)

    def draw(self, frame: Frame) -> None:
        """Subclasses: update widgets from `frame` (diff, never rebuild)."""

    def redraw(self) -> None:
        frame = self.neuron_app.frame
        if frame is not None:
            with self.app.batch_update():
                self.show(frame)

    def on_screen_resume(self) -> None:
        app = self.neuron_app
        app.poller.focus = self.wanted_focus()
        self.redraw()
        self._compact()

    def on_resize(self) -> None:
        self._compact()

    def _compact(self) -> None:
        # The stylesheet does the work; this only flips the class (memray's habit).
        size = self.app.size
        self.set_class(size.width < COMPACT_WIDTH or size.height < COMPACT_HEIGHT, "compact")

    # --- filter ------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.value = self.filter_text
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value.strip()
            self.redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._close_filter()

    def _close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("visible")
        self.focus_next()

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("visible"):
            box.value = ""
            self.filter_text = ""
            self._close_filter()
            self.redraw()
            return
        self.go_back()

    def go_back(self) -> None:
        """Escape with no filter open: pop a drill-down level or the screen."""
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def matches(self, *fields: str) -> bool:
        if not self.filter_text:
            return True
        needle = self.filter_text.lower()
        return any(needle in f.lower() for f in fields)
