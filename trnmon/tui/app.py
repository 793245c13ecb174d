"""NeuronTopApp: wires a FleetSource to the views through the coalescing poller.

The app owns the source's lifecycle, the latest Frame and the navigation: screens post
messages (open node, open device, processes, fleet, focus) and the app acts on them, so no
screen imports the app. The app forwards each Frame only to the visible screen, inside
batch_update(), and never calls the source itself (the poller thread does), so the UI
thread never waits on a tick or on the network.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from trnmon.api.models import EventModel
from trnmon.sources.base import FleetSource
from trnmon.tui.messages import (
    Frame,
    GoFleet,
    OpenDevice,
    OpenNode,
    OpenProcesses,
    SettingChanged,
    SummaryReady,
    WantFocus,
)
from trnmon.tui.poller import Poller
from trnmon.tui.screens.base import DataScreen
from trnmon.tui.screens.device import DeviceScreen
from trnmon.tui.screens.events import EventsScreen
from trnmon.tui.screens.fleet import FleetScreen
from trnmon.tui.screens.help import HelpScreen, key_rows
from trnmon.tui.screens.jobs import JobsScreen
from trnmon.tui.screens.node import NodeScreen
from trnmon.tui.screens.processes import ProcessesScreen
from trnmon.tui.settings import Settings

EVENT_LOG = 2000  # events kept by the UI, beyond the summary's bounded window
THEMES = ("textual-dark", "textual-light")


class NeuronTopApp(App[None]):
    """neuron-top: the fleet, jobs and events views plus node, device and process drill-down."""

    TITLE = "neuron-top"
    CSS_PATH = str(Path(__file__).with_name("neuron_top.tcss"))
    MODES: ClassVar[dict[str, type[Screen[None]]]] = {  # type: ignore[assignment]
        "fleet": FleetScreen, "jobs": JobsScreen, "events": EventsScreen}
    DEFAULT_MODE = "fleet"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("1", "fleet", "Fleet"),
        Binding("2", "switch_mode('jobs')", "Jobs"),
        Binding("3", "switch_mode('events')", "Events"),
        Binding("p", "pause", "Pause"),
        Binding("plus", "interval(-1)", "Faster", key_display="+"),
        Binding("minus", "interval(1)", "Slower", key_display="-"),
        Binding("t", "toggle_theme", "Theme"),
    ]

    def __init__(self, source: FleetSource, *, interval: float | None = None,
                 start_threads: bool = True, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.source = source
        self.poller = Poller(source, self._post_frame,
                             interval=interval if interval is not None
                             else self.settings.interval)
        self.frame: Frame | None = None
        self.paused = False
        self.events_log: deque[EventModel] = deque(maxlen=EVENT_LOG)
        self._last_seq = -1
        self._fresh_at = time.monotonic()  # when the source last delivered connected data
        # Tests drive frames by hand (no threads, fully deterministic).
        self._start_threads = start_threads
        self.frames_applied = 0

    def _post_frame(self, frame: Frame) -> None:
        self.post_message(SummaryReady(frame))

    def on_mount(self) -> None:
        self.theme = self.settings.theme if self.settings.theme in THEMES else THEMES[0]
        if self._start_threads:
            self.source.start()
            self.poller.start()

    def on_unmount(self) -> None:
        self.poller.stop()
        self.source.stop()
        self.settings.save()

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
        if frame.status.connected:
            self._fresh_at = frame.received or time.monotonic()
        self.frame = self._stamp(frame)
        self._show()
        self.frames_applied += 1

    def _stamp(self, frame: Frame) -> Frame:
        """The app's own state travels with the frame (screens never read the app)."""
        return dataclasses.replace(frame, paused=self.paused, interval=self.poller.interval,
                                   events=tuple(self.events_log), fresh_at=self._fresh_at,
                                   settings=self.settings)

    def _show(self) -> None:
        # The topmost view, even under the `?` overlay: the screen stays live beneath it.
        screen = next((s for s in reversed(self.screen_stack) if isinstance(s, DataScreen)),
                      None)
        if self.frame is not None and screen is not None:
            with self.batch_update():
                screen.show(self.frame)

    # --- navigation (messages from the screens) ------------------------------------------
    @on(WantFocus)
    def want_focus(self, message: WantFocus) -> None:
        self.poller.focus = message.focus
        self._show()

    @on(OpenNode)
    def _open_node(self, message: OpenNode) -> None:
        self.open_node(message.instance_id)

    @on(OpenDevice)
    def _open_device(self, message: OpenDevice) -> None:
        self.push_screen(DeviceScreen(message.instance_id, message.device))

    @on(OpenProcesses)
    def _open_processes(self, message: OpenProcesses) -> None:
        self.push_screen(ProcessesScreen(message.instance_id))

    def open_node(self, instance_id: str) -> None:
        """The Node view of `instance_id` over the current view."""
        self.push_screen(NodeScreen(instance_id))

    @on(SettingChanged)
    def setting_changed(self, message: SettingChanged) -> None:
        setattr(self.settings, message.name, message.value)

    @on(GoFleet)
    def go_fleet(self, message: GoFleet) -> None:
        self.action_fleet()

    # --- actions -----------------------------------------------------------------------
    def action_fleet(self) -> None:
        """`1`: the fleet overview from anywhere (drops drill-down screens)."""
        if self.current_mode != "fleet":
            self.switch_mode("fleet")
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(key_rows((
            ("all", NeuronTopApp), ("all", DataScreen), ("fleet", FleetScreen),
            ("node", NodeScreen), ("device", DeviceScreen), ("jobs", JobsScreen),
            ("events", EventsScreen)))))

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.poller.paused = self.paused
        if not self.paused:
            self.poller.kick()
        self._restamp()

    def action_interval(self, direction: int) -> None:
        interval = self.poller.step_interval(direction)
        self.settings.interval = interval
        self.notify(f"refresh every {interval:g} s", timeout=2)
        self._restamp()

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[(THEMES.index(self.theme) + 1) % 2 if self.theme in THEMES else 0]
        self.settings.theme = self.theme

    def _restamp(self) -> None:
        if self.frame is not None:
            self.frame = self._stamp(self.frame)
            self._show()
