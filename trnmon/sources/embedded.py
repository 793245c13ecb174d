"""An emulated fleet in-process: an Engine ticking on its own thread at real time × speed.

Each tick captures an immutable FleetSnapshot, builds the FleetSummary (views.py does the
vectorised work) and records history; node detail is built on demand from the latest
snapshot, so the tick never pays for views nobody is looking at.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from trnmon.api import HistoryBuffer, fleet_summary, node_detail
from trnmon.api.models import FleetSummary, HistorySeries, NodeDetail
from trnmon.config import FleetConfig
from trnmon.sim import Engine
from trnmon.snapshot import FleetSnapshot
from trnmon.sources.base import FleetSource, SourceStatus

# The longest the thread sleeps, so stop() and speed changes take effect promptly.
_MAX_WAIT_S = 0.25
_MAX_CATCHUP_S = 2.0


class EmbeddedSource(FleetSource):
    def __init__(self, config: FleetConfig, *, speed: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.config = config
        self._engine = Engine(config)
        self._engine.speed = speed
        self._clock = clock
        self._history = HistoryBuffer(self._engine.topo)
        self._snap: FleetSnapshot | None = None
        # Guards the engine's history buffer and snapshot against on-demand readers.
        self._data_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._capture()  # tick 0 right away: the first frame must not wait a whole tick
        self._thread = threading.Thread(target=self._run, name="trnmon-embedded",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _run(self) -> None:
        last = self._clock()
        while not self._stop.is_set():
            eng = self._engine
            self._stop.wait(min(eng.config.tick_seconds / max(eng.speed, 1e-9), _MAX_WAIT_S))
            now = self._clock()
            # Clamp the catch-up after a stall (a suspended laptop, a loaded machine) so
            # the thread never bursts through minutes of ticks at once.
            if eng.run_for(min(now - last, _MAX_CATCHUP_S)):
                self._capture()
            last = now

    def _capture(self) -> None:
        snap = FleetSnapshot.capture(self._engine)
        summary = fleet_summary(snap)
        with self._data_lock:
            self._snap = snap
            self._history.record(snap)
        self._publish(summary)

    def step(self, ticks: int = 1) -> FleetSummary:
        """Advance synchronously (for --once and tests; not while the thread runs)."""
        if self._thread is not None:
            raise RuntimeError("step() while the source thread is running")
        for _ in range(ticks):
            self._engine.step()
        self._capture()
        summary = self.latest()
        assert summary is not None
        return summary

    # --- on demand ---------------------------------------------------------------------
    def _node_index(self, node: int | str) -> int | None:
        topo = self._engine.topo
        if isinstance(node, int):
            return node if 0 <= node < topo.n_nodes else None
        snap = self._snap  # one attribute read: no lock (history() holds it)
        try:  # a replaced node's current id first, then its first id or index
            return snap.node_index(node) if snap is not None else topo.node_index(node)
        except KeyError:
            return None

    def node_detail(self, node: int | str) -> NodeDetail | None:
        idx = self._node_index(node)
        with self._data_lock:
            snap = self._snap
        if idx is None or snap is None:
            return None
        return node_detail(snap, idx)

    def history(self, scope: str) -> HistorySeries | None:
        topo = self._engine.topo
        with self._data_lock:
            if scope == "fleet":
                return self._history.fleet_series()
            iid, _, dev = scope.partition("/nd")
            idx = self._node_index(iid)
            if idx is None:
                return None
            if not dev:
                return self._history.node_series(idx, iid)
            chips = topo.node_chips(idx)
            local = int(dev) if dev.isdigit() else -1
            if not 0 <= local < len(chips):
                return None
            return self._history.device_series(int(chips[local]), scope)

    @property
    def status(self) -> SourceStatus:
        speed = self._engine.speed
        return SourceStatus(connected=True,
                            text=f"embedded {self.config.name} ×{speed:g}")

    @property
    def speed(self) -> float:
        return self._engine.speed

    def set_speed(self, speed: float) -> None:
        self._engine.speed = max(0.0, speed)
