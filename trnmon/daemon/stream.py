"""The push stream: server-sent events carrying one fleet summary per tick.

The tick thread only schedules a broadcast on the event loop; the summary is encoded once
per tick for all clients (and only while someone listens). Each client has a two-slot
queue that drops its oldest message when full, and a write that has not drained within
WRITE_TIMEOUT_S ends that client: a slow or abandoned reader loses messages or its
connection, never the fleet's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from trnmon.api.views import fleet_summary
from trnmon.snapshot import FleetSnapshot

log = logging.getLogger("trnmon.daemon")

QUEUE_SLOTS = 2
WRITE_TIMEOUT_S = 30.0
KEEPALIVE_S = 15.0


def encode(snap: FleetSnapshot) -> bytes:
    data = fleet_summary(snap).model_dump_json()
    return f"id: {snap.tick}\nevent: summary\ndata: {data}\n\n".encode()


class StreamHub:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: set[asyncio.Queue[bytes | None]] = set()
        self.dropped = 0
        self._last_tick = -1

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def on_snapshot(self, snap: FleetSnapshot) -> None:
        """Called on the tick thread: hand over to the event loop, never block."""
        if self.clients and self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is shutting down
                self.loop.call_soon_threadsafe(self._broadcast, snap)

    def _broadcast(self, snap: FleetSnapshot) -> None:
        if not self.clients or snap.tick == self._last_tick:
            return
        self._last_tick = snap.tick
        data = encode(snap)
        for q in self.clients:
            if q.full():
                q.get_nowait()
                self.dropped += 1
            q.put_nowait(data)

    def close(self) -> None:
        for q in self.clients:
            if q.full():
                q.get_nowait()
            q.put_nowait(None)

    async def handle(self, request: web.Request, first: FleetSnapshot) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        q: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_SLOTS)
        q.put_nowait(encode(first))
        self.clients.add(q)
        try:
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        data = await q.get()
                except TimeoutError:
                    data = b": keepalive\n\n"
                if data is None:
                    break
                async with asyncio.timeout(WRITE_TIMEOUT_S):
                    await resp.write(data)
        except (TimeoutError, ConnectionResetError):
            log.info("stream client %s dropped (not reading)", request.remote)
        finally:
            self.clients.discard(q)
        return resp
