"""NeuronTopApp: wires a FleetSource to the views through the coalescing poller.

The app owns the source's lifecycle and the latest Frame; it forwards each Frame only to
the visible screen, inside batch_update(), and never calls the source itself (the poller
thread does), so the UI thread never waits on a tick or on the network.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from trnmon.api.models import EventModel
from trnmon.sources.base import FleetSource
from trnmon.tui.messages import Frame, SummaryReady
from trnmon.tui.poller import Poller
from trnmon.tui.screens.base import DataScreen
from trnmon.tui.screens.events import EventsScreen
from trnmon.tui.screens.fleet import FleetScreen
from trnmon.tui.screens.help import HelpScreen
from trnmon.tui.screens.jobs import JobsScreen
from trnmon.tui.screens.node import NodeScreen

EVENT_LOG = 2000  # events kept by the UI, beyond the summary's bounded window


class NeuronTopApp(App[None]):
    TITLE = "neuron-top"
    CSS_PATH = str(Path(__file__).with_name("neuron_top.tcss"))
    MODES: ClassVar[dict[str, type[Screen[None]]]] = {  # type: ignore[assignment]
        "fleet": FleetScreen, "jobs": JobsScreen, "events": EventsScreen}
    DEFAULT_MODE = "fleet"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("1", "switch_mode('fleet')", "Fleet"),
        Binding("2", "switch_mode('jobs')", "Jobs"),
        Binding("3", "switch_mode('events')", "Events"),
        Binding("p", "pause", "Pause"),
        Binding("plus", "interval(-1)", "Faster", key_display="+"),
        Binding("minus", "interval(1)", "Slower", key_display="-"),
        Binding("t", "toggle_theme", "Theme"),
    ]

    def __init__(self, source: FleetSource, *, interval: float = 1.0,
                 start_threads: bool = True) -> None:
        super().__init__()
        self.source = source
        self.poller = Poller(source, self._post_frame, interval=interval)
        self.frame: Frame | None = None
        self.paused = False
        self.events_log: deque[EventModel] = deque(maxlen=EVENT_LOG)
        self._last_seq = -1
        # Tests drive frames by hand (no threads, fully deterministic).
        self._start_threads = start_threads
        self.frames_applied = 0

    def _post_frame(self, frame: Frame) -> None:
        self.post_message(SummaryReady(frame))

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        if self._start_threads:
            self.source.start()
            self.poller.start()

    def on_unmount(self) -> None:
        self.poller.stop()
        self.source.stop()

    # --- frames ----------------------------------------------------------------------
    @on(SummaryReady)
    def apply_frame(self, message: SummaryReady) -> None:
        frame = message.frame
        if self.paused and self.frame is not None and frame.focus == self.frame.focus:
            return  # a frame already in flight when `p` was pressed
        if frame.summary is not None:
            for e in frame.summary.events:
                if e.seq > self._last_seq:
                    self.events_log.append(e)
                    self._last_seq = e.seq
        self.frame = frame
        screen = self.screen
        if isinstance(screen, DataScreen):
            with self.batch_update():
                screen.show(frame)
        self.frames_applied += 1

    # --- navigation ----------------------------------------------------------------------
    def open_node(self, instance_id: str) -> None:
        self.push_screen(NodeScreen(instance_id))

    def open_device(self, instance_id: str, device: int) -> None:
        from trnmon.tui.screens.device import DeviceScreen

        self.push_screen(DeviceScreen(instance_id, device))

    # --- actions -----------------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.poller.paused = self.paused
        if not self.paused:
            self.poller.kick()
        self._redraw()

    def action_interval(self, direction: int) -> None:
        interval = self.poller.step_interval(direction)
        self.notify(f"refresh every {interval:g} s", timeout=2)
        self._redraw()

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def _redraw(self) -> None:
        if isinstance(self.screen, DataScreen):
            self.screen.redraw()
