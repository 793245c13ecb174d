"""The source interface every neuron-top data feed implements.

A source owns its own thread (an engine, a socket, a file tail) and hands the UI immutable
`trnmon.api` models only, so the TUI cannot tell an embedded fleet from a daemon, from
neuron-monitor output or from Prometheus. Two rules keep the UI responsive:

* `latest()` is a non-blocking read of a slot the source thread fills; `subscribe()`'s
  callback is only a nudge (no payload is queued), so a slow reader coalesces ticks.
* `node_detail()` and `history()` may block (a network round trip for a remote source):
  callers run them off the UI thread (the TUI's poller does).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from trnmon.api.models import FleetSummary, HistorySeries, NodeDetail

Listener = Callable[[], None]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What the header says about the feed: `connected` drives the colour."""

    connected: bool
    text: str  # e.g. "embedded ohio ×1", "daemon http://h:9400 (reconnecting in 4 s)"


class FleetSource(ABC):
    """A stream of FleetSummary updates plus node detail and history on demand."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._latest: FleetSummary | None = None

    # --- lifecycle ---------------------------------------------------------------------
    @abstractmethod
    def start(self) -> None:
        """Begin producing summaries (spawn the thread, open the connection)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop producing and release resources; idempotent; joins any thread."""

    # --- the push stream ---------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """`listener()` is called from the source's thread after each new summary."""
        self._listeners.append(listener)

    def latest(self) -> FleetSummary | None:
        """The newest summary, or None before the first; never blocks on I/O."""
        with self._lock:
            return self._latest

    def _publish(self, summary: FleetSummary) -> None:
        """For implementations: fill the slot, then nudge listeners."""
        with self._lock:
            self._latest = summary
        for listener in list(self._listeners):
            listener()

    # --- on demand (may block: call off the UI thread) ----------------------------------
    @abstractmethod
    def node_detail(self, node: int | str) -> NodeDetail | None:
        """One node in full by index or instance id; None if unknown or unavailable."""

    @abstractmethod
    def history(self, scope: str) -> HistorySeries | None:
        """History for "fleet", an instance id, or "<instance id>/nd<N>"; None if none."""

    @property
    @abstractmethod
    def status(self) -> SourceStatus:
        """Connection state for the header; cheap, never blocks."""

    # --- optional controls (a remote or recorded source may ignore them) ---------------
    @property
    def speed(self) -> float:
        return 1.0

    def set_speed(self, speed: float) -> None:  # noqa: B027 - optional hook, no-op default
        """Simulated seconds per wall second, where the source can change it."""
