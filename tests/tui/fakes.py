"""A deterministic FleetSource for TUI tests: summaries are pushed by the test.

The models come from a seeded engine stepped in the fixture (the TUI itself only sees
`trnmon.api` models, exactly as it would from a daemon); nothing runs on a thread.
"""

from __future__ import annotations

from trnmon.api import HistoryBuffer, fleet_summary, node_detail
from trnmon.api.models import FleetSummary, HistorySeries, NodeDetail
from trnmon.config import load_config
from trnmon.sim import Engine
from trnmon.snapshot import FleetSnapshot
from trnmon.sources.base import FleetSource, SourceStatus


class FakeSource(FleetSource):
    def __init__(self, preset: str = "tiny", *, seed: int = 7, ticks: int = 3) -> None:
        super().__init__()
        self.engine = Engine(load_config(preset_name=preset, environ={},
                                         overrides={"seed": seed}))
        self.history_buf = HistoryBuffer(self.engine.topo)
        self.snap: FleetSnapshot | None = None
        self.started = self.stopped = False
        self.connected = True
        self.advance(ticks)

    def advance(self, ticks: int = 1) -> FleetSummary:
        """Step the engine, record history and publish (like a source thread would)."""
        for _ in range(ticks):
            self.engine.step()
            self.snap = FleetSnapshot.capture(self.engine)
            self.history_buf.record(self.snap)
        assert self.snap is not None
        summary = fleet_summary(self.snap)
        self._publish(summary)
        return summary

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def node_detail(self, node: int | str) -> NodeDetail | None:
        assert self.snap is not None
        idx = node if isinstance(node, int) else self.engine.topo.node_index(node)
        return node_detail(self.snap, idx)

    def history(self, scope: str) -> HistorySeries | None:
        topo = self.engine.topo
        if scope == "fleet":
            return self.history_buf.fleet_series()
        iid, _, dev = scope.partition("/nd")
        node = topo.node_index(iid)
        if not dev:
            return self.history_buf.node_series(node)
        return self.history_buf.device_series(int(topo.node_chips(node)[int(dev)]))

    @property
    def status(self) -> SourceStatus:
        return SourceStatus(self.connected, "fake tiny" if self.connected
                            else "fake: disconnected, retrying")
