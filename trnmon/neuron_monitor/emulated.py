"""Where `trnmon monitor` gets an emulated node from: an embedded engine or a daemon.

Both feeds yield successive `NodeDetail`s of one node and know its `Identity`; the
`run` loop paces them, feeds a `ReportBuilder` and writes one JSON line per period.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import IO, Protocol

from trnmon.api.client import Client
from trnmon.api.models import FleetTopology, NodeDetail
from trnmon.api.views import node_detail
from trnmon.errors import TrnmonError
from trnmon.neuron_monitor.identity import Identity, json_identity, topology_identity
from trnmon.neuron_monitor.report import ReportBuilder
from trnmon.sim import Engine
from trnmon.snapshot import FleetSnapshot


class Feed(Protocol):
    identity: Identity

    def advance(self, sim_seconds: float) -> NodeDetail:
        """Let `sim_seconds` of emulated time pass (or wait for it), then the node."""
        ...


class EngineFeed:
    """An embedded engine: advanced by exactly the requested simulated time."""

    def __init__(self, engine: Engine, node: int) -> None:
        self.engine = engine
        self.node = node
        self.identity = topology_identity(engine.topo, node)

    def advance(self, sim_seconds: float) -> NodeDetail:
        tick = self.engine.config.tick_seconds
        left = sim_seconds
        while left > 1e-9:
            dt = min(tick, left)
            self.engine.step(dt)
            left -= dt
        return node_detail(FleetSnapshot.capture(self.engine), self.node)


class DaemonFeed:
    """A running `trnmon daemon`: its clock advances on its own; we read the node."""

    def __init__(self, url: str, node: str | None) -> None:
        self.client = Client(url)
        topo = FleetTopology.model_validate(self.client.request("GET", "/api/v1/topology"))
        ids = [n.instance_id for n in topo.nodes]
        if node is None:
            index = 0
        elif node in ids:
            index = ids.index(node)
        elif node.isdigit() and int(node) < len(ids):
            index = int(node)
        else:
            raise TrnmonError(f"unknown node {node!r}: the daemon's fleet has nodes 0-"
                              f"{len(ids) - 1} ({ids[0]} ...)")
        self.instance_id = ids[index]
        self.identity = json_identity(topo, index)

    def advance(self, sim_seconds: float) -> NodeDetail:
        del sim_seconds  # the daemon keeps its own time; the caller paces the polling
        return NodeDetail.model_validate(
            self.client.request("GET", f"/api/v1/nodes/{self.instance_id}"))


def run(feed: Feed, builder: ReportBuilder, out: IO[str], *, count: int | None,
        interval: float, wall_per_sim: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic) -> int:
    """Write `count` report lines (forever if None), one every `interval` simulated
    seconds, i.e. every `interval * wall_per_sim` wall seconds. Returns lines written."""
    builder.prime(feed.advance(0.0))
    written = 0
    start = clock()
    while count is None or written < count:
        deadline = start + (written + 1) * interval * wall_per_sim
        wait = deadline - clock()
        if wait > 0:
            sleep(wait)
        report = builder.build(feed.advance(interval))
        out.write(json.dumps(report, separators=(",", ":")) + "\n")
        out.flush()
        written += 1
    return written
