"""What every request handler shares: the engine runner, settings, token and small caches.

Kept apart from the route modules and the app factory so that they all import it and none
imports another: the dependency runs one way, state <- routes <- app.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from trnmon.daemon.connections import ConnectionGuard
from trnmon.daemon.runner import EngineRunner
from trnmon.daemon.settings import Settings
from trnmon.daemon.stream import StreamHub
from trnmon.exporter.render import NodeRenderer

# The only keys `DaemonState.cached` accepts: the cache's size is fixed by the server,
# never by what clients send (a Host header, a query string).
CACHE_KEYS = frozenset({"sd", "topology", "summary"})


@dataclass
class DaemonState:
    """The daemon's shared objects, owned by the event loop (handlers read, never block)."""

    runner: EngineRunner
    settings: Settings
    token: str
    renderer: NodeRenderer = field(default_factory=NodeRenderer)
    hub: StreamHub = field(default_factory=StreamHub)
    guard: ConnectionGuard = field(default_factory=ConnectionGuard)
    url: str = ""  # where the daemon listens, once bound (port 0 resolved)
    ready: bool = False
    draining: bool = False
    started_wall: float = field(default_factory=time.time)
    node_scrapes: int = 0
    node_scrape_errors: int = 0
    cache: dict[str, tuple[int, bytes]] = field(default_factory=dict)

    def cached(self, key: str, tick: int, build: Callable[[], bytes]) -> bytes:
        """Per-tick cache of encoded responses: a tick's summary is built once."""
        if key not in CACHE_KEYS:
            raise ValueError(f"not a fixed cache key: {key!r}")
        hit = self.cache.get(key)
        if hit is not None and hit[0] == tick:
            return hit[1]
        data = build()
        self.cache[key] = (tick, data)
        return data


STATE = web.AppKey("state", DaemonState)
