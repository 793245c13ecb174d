"""What every neuron-top view shares: header, filter bar, footer, and the frame hook.

A view declares the Focus it needs (`wanted_focus`) and draws a Frame in `show()`; the app
calls `show()` only on the visible screen, inside `batch_update()`, so hidden views cost
nothing per tick and redraw from the latest frame when they come back. Views never import
the app: they post messages (trnmon.tui.messages) and keep the last Frame they were shown.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from trnmon.tui.messages import Focus, Frame, WantFocus
from trnmon.tui.widgets.header import FleetHeader
from trnmon.tui.widgets.virtual_table import VirtualTable

COMPACT_WIDTH, COMPACT_HEIGHT = 120, 34


class DataScreen(Screen[None]):
    """A view of the latest Frame: header, body (subclasses) and the filter box."""

    VIEW = "view"
    # A view whose panels sit in one scrolling body (Node, Device): PageUp/PageDown/Home/End
    # scroll that body whichever panel has focus, so they never move an off-screen cursor.
    SCROLL_BODY: ClassVar[str | None] = None
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "back", "Back", show=False),
        Binding("pageup", "page('up')", show=False, priority=True),
        Binding("pagedown", "page('down')", show=False, priority=True),
        Binding("home", "page('home')", show=False, priority=True),
        Binding("end", "page('end')", show=False, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.frame: Frame | None = None  # the last frame shown (redraws reuse it)

    def compose_header(self) -> ComposeResult:
        yield FleetHeader(id="header")

    def compose_footer(self) -> ComposeResult:
        yield Input(placeholder="filter (Enter keeps, Escape clears)", id="filter")
        yield Footer()

    # --- the frame hook ----------------------------------------------------------------
    def wanted_focus(self) -> Focus:
        """The detail and history this view needs fetched with each summary."""
        return Focus()

    def show(self, frame: Frame) -> None:
        """Draw `frame` (the app calls this on the visible screen only)."""
        self.frame = frame
        self.query_one(FleetHeader).show(frame, view=self.VIEW, filter_text=self.filter_text)
        self.draw(frame)

    def draw(self, frame: Frame) -> None:
        """Subclasses: update widgets from `frame` (diff, never rebuild)."""

    def redraw(self) -> None:
        """Draw the last frame again (a key changed what the view shows)."""
        if self.frame is not None and self.is_mounted:
            with self.app.batch_update():
                self.show(self.frame)

    def on_screen_resume(self) -> None:
        self.post_message(WantFocus(self.wanted_focus()))
        self._compact()

    def on_resize(self) -> None:
        self._compact()

    def _compact(self) -> None:
        # The stylesheet does the work; this only flips the class (memray's habit).
        size = self.app.size
        self.set_class(size.width < COMPACT_WIDTH or size.height < COMPACT_HEIGHT, "compact")

    # --- scrolling -----------------------------------------------------------------------
    def action_page(self, where: str) -> None:
        """PageUp/PageDown/Home/End: the scrolling body, else the focused table or input."""
        focused = self.focused
        if isinstance(focused, Input):
            if where in ("home", "end"):
                focused.action_home() if where == "home" else focused.action_end()
            return
        if self.SCROLL_BODY is not None:
            body = self.query_one(self.SCROLL_BODY, VerticalScroll)
            {"up": body.scroll_page_up, "down": body.scroll_page_down,
             "home": body.scroll_home, "end": body.scroll_end}[where](animate=False)
            return
        if isinstance(focused, VirtualTable):
            focused.action_edge(where == "end") if where in ("home", "end") else \
                focused.action_page(1 if where == "down" else -1)
            return
        if isinstance(focused, DataTable):
            {"up": focused.action_page_up, "down": focused.action_page_down,
             "home": focused.action_scroll_top, "end": focused.action_scroll_bottom}[where]()

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
        """Escape: close the filter box, else clear a kept filter, else climb a level."""
        box = self.query_one("#filter", Input)
        if box.has_class("visible") or self.filter_text:
            box.value = ""
            self.filter_text = ""
            if box.has_class("visible"):
                self._close_filter()
            self.redraw()
            return
        self.go_back()

    def go_back(self) -> None:
        """Escape with no filter: pop a drill-down level or the screen."""
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def matches(self, *fields: str) -> bool:
        """Whether any of `fields` contains the filter text (case-insensitive)."""
        if not self.filter_text:
            return True
        needle = self.filter_text.lower()
        return any(needle in f.lower() for f in fields)
