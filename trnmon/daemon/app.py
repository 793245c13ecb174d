"""The aiohttp application: shared state, JSON errors, body parsing, route table.

Every error leaves as JSON ``{"error": ..., "field": ...}`` with a 4xx status; an
unexpected exception is logged and answered 500 without a traceback. Control routes check
the bearer token before reading the body, and bodies are capped at `max_body_bytes`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from trnmon.daemon import token as tokens
from trnmon.daemon.control import RequestError
from trnmon.daemon.runner import EngineRunner
from trnmon.daemon.settings import Settings
from trnmon.daemon.stream import StreamHub
from trnmon.exporter.render import NodeRenderer

log = logging.getLogger("trnmon.daemon")

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class DaemonState:
    runner: EngineRunner
    settings: Settings
    token: str
    renderer: NodeRenderer = field(default_factory=NodeRenderer)
    hub: StreamHub = field(default_factory=StreamHub)
    ready: bool = False
    draining: bool = False
    started_wall: float = field(default_factory=time.time)
    node_scrapes: int = 0
    node_scrape_errors: int = 0
    cache: dict[str, tuple[int, bytes]] = field(default_factory=dict)

    def cached(self, key: str, tick: int, build: Callable[[], bytes]) -> bytes:
        """Per-tick cache of encoded responses: a tick's summary is built once."""
        hit = self.cache.get(key)
        if hit is not None and hit[0] == tick:
            return hit[1]
        data = build()
        self.cache[key] = (tick, data)
        return data


STATE = web.AppKey("state", DaemonState)


def json_error(status: int, message: str, field_name: str | None = None,
               headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if field_name is not None:
        body["field"] = field_name
    return web.json_response(body, status=status, headers=headers)


def json_bytes(data: bytes, status: int = 200) -> web.Response:
    return web.Response(body=data, status=status, content_type="application/json")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return json_error(exc.status, exc.message, exc.field)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow",)}
        return json_error(exc.status, exc.reason, headers=headers)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return json_error(500, "internal error (logged by the daemon)")


def require_token(handler: Handler) -> Handler:
    async def checked(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        if not tokens.matches(state.token, request.headers.get("Authorization")):
            return json_error(401, "missing or wrong bearer token",
                              headers={"WWW-Authenticate": 'Bearer realm="trnmon"'})
        return await handler(request)

    checked.__name__ = handler.__name__
    return checked


def field_of(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "(body)"
    return where, f"{where}: {err['msg']}"


async def parse_body(request: web.Request, model: type[M]) -> M:
    """The request body as `model`; 400/413/415/422 JSON errors otherwise."""
    limit = request.app[STATE].settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise RequestError(413, None, f"body larger than {limit} bytes")
    raw = await request.content.read(limit + 1)  # never buffer more than the limit
    if len(raw) > limit:
        raise RequestError(413, None, f"body larger than {limit} bytes")
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # JSON and UTF-8 errors are ValueErrors
            raise RequestError(400, None, f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(422, None, "body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where, text = field_of(exc)
        raise RequestError(422, where, text) from None


def build_app(state: DaemonState) -> web.Application:
    from trnmon.daemon import routes, routes_control

    app = web.Application(middlewares=[errors], client_max_size=state.settings.max_body_bytes)
    app[STATE] = state
    routes.add(app)
    routes_control.add(app)

    async def close_streams(app: web.Application) -> None:
        app[STATE].hub.close()

    app.on_shutdown.append(close_streams)
    return app
