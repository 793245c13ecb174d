"""Client connections: a cap under the descriptor limit, idle eviction, write deadlines.

aiohttp already closes a connection that has not completed a request's headers within
its keep-alive timeout counted from the connect (our `idle_timeout_s`), and refuses
over-long lines and too many headers. What it does not bound is how many connections are
open and how long a client may take to read a response. This module adds both:

- `ConnectionGuard.factory` makes each connection's protocol: at `limit` open connections a new
  one closes the connection that has been idle longest, or is answered 503 and closed when
  every connection is inside a request. The limit is kept below RLIMIT_NOFILE, so the
  daemon never runs out of descriptors (no EMFILE from accept, /healthz keeps answering).
- `write_deadline` (a middleware) writes each response itself under `write_timeout_s`
  and aborts the connection of a client that does not read it, freeing its buffers.
- `OneLineClientErrors` turns aiohttp's tracebacks for malformed requests and vanished
  clients into one rate-limited log line; they are client behaviour, not daemon faults.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("trnmon.daemon")

BACKLOG = 64  # listen backlog, and how many sockets asyncio accepts in one loop pass
FD_RESERVE = 64  # listening socket, epoll, notify socket, lock, checkpoint file, stdio
# At the cap, one loop pass can hold BACKLOG new sockets plus BACKLOG evicted ones whose
# descriptors close on the next pass: both stay free below the soft limit.
HEADROOM = 2 * BACKLOG + FD_RESERVE
_BUSY_BODY = b'{"error": "too many connections, retry later"}'
BUSY_ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
               b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
               % (len(_BUSY_BODY), _BUSY_BODY))

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def connection_budget(wanted: int) -> tuple[int, int]:
    """(connections allowed, soft descriptor limit): `wanted`, lowered to what the
    descriptor limit leaves after the accept backlog and the daemon's own files. The soft
    limit is first raised towards the hard one as far as `wanted` needs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + HEADROOM
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted, soft
    return max(1, min(wanted, soft - HEADROOM)), soft


class _Refused(asyncio.Protocol):
    """A connection over the cap while every other one is busy: one 503, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(BUSY_ANSWER)
        transport.close()


class GuardedHandler(RequestHandler):
    """aiohttp's connection protocol, reporting its open and close to a `ConnectionGuard`."""

    __slots__ = ("_guard",)

    def __init__(self, guard: ConnectionGuard, manager: web.Server, *,
                 loop: asyncio.AbstractEventLoop, **options: Any) -> None:
        super().__init__(manager, loop=loop, **options)
        self._guard = guard

    def connection_lost(self, exc: BaseException | None) -> None:
        self._guard.closed(self)
        super().connection_lost(exc)


class ConnectionGuard:
    """Counts open connections, knows which are inside a request, evicts idle ones."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        # Admitted and not yet lost, least recently used first (a new connection's
        # transport arrives one loop pass after it is admitted).
        self._open: OrderedDict[RequestHandler, None] = OrderedDict()
        self._busy: dict[RequestHandler, int] = {}
        self.evicted = 0
        self.refused = 0
        self.accepted = 0

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def factory(self, server: web.Server, loop: asyncio.AbstractEventLoop,
                options: dict[str, Any]) -> Callable[[], asyncio.Protocol]:
        """The protocol factory for `loop.create_server`: admits within the cap."""

        def admit() -> asyncio.Protocol:
            if len(self._open) >= self.limit and not self._evict_one():
                self.refused += 1
                return _Refused()
            handler = GuardedHandler(self, server, loop=loop, **options)
            self._open[handler] = None
            self.accepted += 1
            return handler

        return admit

    def _evict_one(self) -> bool:
        for h in self._open:
            if h.transport is not None and h not in self._busy:
                del self._open[h]
                h.force_close()  # its descriptor closes on the next loop pass
                self.evicted += 1
                return True
        return False

    def closed(self, handler: RequestHandler) -> None:
        self._open.pop(handler, None)
        self._busy.pop(handler, None)

    def enter(self, handler: Any) -> None:
        if isinstance(handler, RequestHandler):
            self._busy[handler] = self._busy.get(handler, 0) + 1

    def leave(self, handler: Any) -> None:
        if not isinstance(handler, RequestHandler):
            return
        n = self._busy.pop(handler, 0) - 1
        if n > 0:
            self._busy[handler] = n
        if handler in self._open:
            self._open.move_to_end(handler)  # just used: evicted last


class GuardedSite(web.BaseSite):
    """A TCP site whose connections pass through a `ConnectionGuard`; `options` are the
    per-connection limits (`RequestHandler` keyword arguments, see app.server_options)."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 guard: ConnectionGuard, options: dict[str, Any]) -> None:
        super().__init__(runner, backlog=BACKLOG)
        self._host, self._port, self._guard = host, port, guard
        self._options = options

    @property
    def name(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._guard.factory(server, loop, self._options), self._host, self._port,
            backlog=BACKLOG, reuse_address=True)


def write_deadline(guard: ConnectionGuard, timeout_s: Callable[[], float]) -> Middleware:
    """Middleware: mark the connection busy, and send the response within the deadline."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        proto = request.protocol
        guard.enter(proto)
        try:
            resp = await handler(request)
            if not resp.prepared:
                try:
                    async with asyncio.timeout(timeout_s()):
                        await resp.prepare(request)
                        await resp.write_eof()
                except TimeoutError:
                    log.info("client %s did not read its response in %g s: closed",
                             request.remote, timeout_s())
                    if request.transport is not None:
                        request.transport.abort()  # drops the unsent buffer at once
                except ConnectionError:
                    pass  # gone already; aiohttp ends the connection
            return resp
        finally:
            guard.leave(proto)

    return middleware


class OneLineClientErrors(logging.Filter):
    """Malformed requests and vanished clients: one line (at most one per `every_s`), no
    traceback; other records pass untouched. `suppressed` counts what was not logged."""

    CLIENT = (HttpProcessingError, ConnectionError, TimeoutError, UnicodeError)

    def __init__(self, every_s: float = 10.0) -> None:
        super().__init__()
        self.every_s = every_s
        self.suppressed = 0
        self._last = -every_s

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None and isinstance(record.msg, str) and "accept" in record.msg:
            exc = OSError(record.getMessage())  # asyncio's accept-loop complaints
        if exc is None or not isinstance(exc, (*self.CLIENT, OSError)):
            return True
        now = time.monotonic()
        if now - self._last < self.every_s:
            self.suppressed += 1
            return False
        self._last = now
        text = repr(str(exc))[1:-1][:200]  # client bytes: escaped, bounded
        record.args = (record.getMessage(), type(exc).__name__, text)
        record.msg = "%s: %s: %s"
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.INFO, "INFO"
        return True


class LoopErrors:
    """asyncio's exception handler, but OS-level errors (EMFILE on accept, say) are one
    line at most every `every_s` seconds; anything else goes to asyncio's default."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.suppressed = 0
        self._last = -every_s

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not isinstance(exc, OSError):
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self._last < self.every_s:
            self.suppressed += 1
            return
        self._last = now
        log.warning("%s: %s (%d similar suppressed)", context.get("message", "event loop"),
                    exc, self.suppressed)
        self.suppressed = 0
