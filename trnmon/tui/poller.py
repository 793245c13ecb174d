"""The coalescing update thread (memray's shape): source nudges in, one Frame out.

The source's listener only sets an Event, so however fast ticks arrive the poller wakes,
waits out the refresh interval, then reads the newest summary once: ticks merge instead
of queueing. Node detail and history are fetched here too, because for a remote source
they are network round trips the UI thread must never wait on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from trnmon.sources.base import FleetSource
from trnmon.tui.messages import Focus, Frame

INTERVALS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


class Poller:
    """Reads the source on its own thread, paced to `interval`, and posts one Frame."""

    def __init__(self, source: FleetSource, post: Callable[[Frame], object], *,
                 interval: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self._post = post
        self._clock = clock
        self.interval = interval
        self.paused = False
        self._focus = Focus()
        self._wake = threading.Event()  # new data from the source
        self._kick = threading.Event()  # the UI wants a frame now (focus, resume, stop)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_key: object = None
        source.subscribe(self._wake.set)

    # --- called from the UI thread -----------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="neuron-top-poller",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._kick.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    @property
    def focus(self) -> Focus:
        return self._focus

    @focus.setter
    def focus(self, focus: Focus) -> None:
        if focus != self._focus:
            self._focus = focus
            self.kick()

    def kick(self) -> None:
        """Deliver a frame as soon as possible, even while paused."""
        self._kick.set()
        self._wake.set()

    def step_interval(self, direction: int) -> float:
        """`+`/`-`: move along INTERVALS; returns the new interval."""
        i = min(range(len(INTERVALS)), key=lambda k: abs(INTERVALS[k] - self.interval))
        self.interval = INTERVALS[min(max(i + direction, 0), len(INTERVALS) - 1)]
        return self.interval

    # --- the thread --------------------------------------------------------------------
    def _run(self) -> None:
        last_post = -1e9
        while not self._stopped.is_set():
            self._wake.wait(timeout=1.0)  # also wakes for status changes (reconnects)
            self._wake.clear()
            if self._stopped.is_set():
                return
            forced = self._kick.is_set()
            if not forced:
                if self.paused:
                    continue
                remaining = self.interval - (self._clock() - last_post)
                # Pace to the refresh interval; a kick (drill-down) cuts the wait short.
                if remaining > 0 and self._kick.wait(remaining) and self._stopped.is_set():
                    return
            self._kick.clear()
            frame = self.fetch(self._focus)
            key = (frame.summary.tick if frame.summary else None, frame.focus, frame.status)
            if key == self._last_key and not forced:
                continue
            self._last_key = key
            last_post = self._clock()
            self._post(frame)

    def fetch(self, focus: Focus) -> Frame:
        """One Frame for `focus` (blocking: the poller thread or a test calls this)."""
        src = self.source
        detail = src.node_detail(focus.node) if focus.node else None
        history = src.history(focus.history) if focus.history else None
        return Frame(summary=src.latest(), status=src.status, focus=focus, detail=detail,
                     history=history, received=self._clock())
