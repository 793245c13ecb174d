"""JSON answers: the error shape every 4xx uses, and the middleware that guarantees it.

Every error leaves as JSON ``{"error": ..., "field": ...}`` with a 4xx status; an
unexpected exception is logged once and answered 500 without a traceback in the body.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from trnmon.api.models import FaultModel
from trnmon.daemon.control import RequestError
from trnmon.snapshot.snapshot import FaultView

log = logging.getLogger("trnmon.daemon")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str, field_name: str | None = None,
               headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if field_name is not None:
        body["field"] = field_name
    return web.json_response(body, status=status, headers=headers)


def json_bytes(data: bytes, status: int = 200) -> web.Response:
    return web.Response(body=data, status=status, content_type="application/json")


def fault_json(f: FaultView) -> dict[str, object]:
    return FaultModel(fault_id=f.fault_id, kind=f.kind, instance_id=f.instance_id,
                      node=f.node, device=f.device, port=f.port, started_at=f.started_at,
                      clears_at=f.clears_at, injected=f.injected).model_dump(mode="json")


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
        log.exception("%s %r failed", request.method, request.path[:200])
        return json_error(500, "internal error (logged by the daemon)")
