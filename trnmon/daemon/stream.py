"""The push stream: server-sent events carrying one fleet summary per tick.

The tick thread only schedules a broadcast on the event loop; the summary is encoded once
per tick for all clients (and only while someone listens). Each client has a two-slot
queue that drops its oldest message when full, and a write that has not drained within
`write_timeout_s` ends that client: a slow or abandoned reader loses messages or its
connection, never the fleet's time. A client that goes away mid-write is logged as one
line; HEAD gets the stream's headers and no body.
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
WRITE_TIMEOUT_S = 30.0  # default; the daemon sets `StreamHub.write_timeout_s`
KEEPALIVE_S = 15.0
HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
           "X-Accel-Buffering": "no"}


def encode(snap: FleetSnapshot) -> bytes:
    data = fleet_summary(snap).model_dump_json()
    return f"id: {snap.tick}\nevent: summary\ndata: {data}\n\n".encode()


class StreamHub:
    """The push-stream clients' queues and the per-tick broadcast to them."""

    def __init__(self) -> None:
        self.write_timeout_s = WRITE_TIMEOUT_S
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
        if request.method == "HEAD":
            return web.Response(headers=HEADERS)
        resp = web.StreamResponse(headers=HEADERS)
        q: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_SLOTS)
        q.put_nowait(encode(first))
        self.clients.add(q)
        try:
            async with asyncio.timeout(self.write_timeout_s):
                await resp.prepare(request)
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        data = await q.get()
                except TimeoutError:
                    data = b": keepalive\n\n"
                if data is None:
                    break
                async with asyncio.timeout(self.write_timeout_s):
                    await resp.write(data)
        except TimeoutError:
            log.info("stream client %s dropped (not reading)", request.remote)
            if request.transport is not None:
                request.transport.abort()
        except ConnectionError:  # the client went away mid-write: its choice
            log.info("stream client %s disconnected", request.remote)
        finally:
            self.clients.discard(q)
        return resp
