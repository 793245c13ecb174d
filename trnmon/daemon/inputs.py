"""Reading what a client sends: the bearer token, JSON bodies, numbers in paths and queries.

Bodies are read in full (Content-Length or chunked, however many TCP pieces) within
`body_timeout_s` and at most `max_body_bytes`, then validated strictly: JSON ``true`` is not
a number and ``1`` is not a boolean. Numbers in URLs are ASCII digits only (``str.isdigit``
would take ``²`` or Arabic-Indic digits) and bounded in length before `int()` sees them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from trnmon.daemon import token as tokens
from trnmon.daemon.control import RequestError
from trnmon.daemon.responses import json_error
from trnmon.daemon.state import STATE

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DIGITS = re.compile(r"[0-9]{1,18}", re.ASCII)  # below 2**63: no huge-int parsing


def ascii_int(raw: str) -> int | None:
    """The value of 1-18 ASCII digits, else None."""
    return int(raw) if DIGITS.fullmatch(raw) else None


def int_query(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    value = ascii_int(raw)
    if value is None:
        raise RequestError(422, name, f"{name}: expected a non-negative integer "
                                      f"(ASCII digits), got {raw[:40]!r}")
    return value


def path_id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    value = ascii_int(raw)
    if value is None:
        raise RequestError(404, name, f"no such {name.replace('_', ' ')} {raw[:40]!r}")
    return value


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


async def read_body(request: web.Request) -> bytes:
    """The whole body: 413 past `max_body_bytes`, 408 if it is not all there in time."""
    s = request.app[STATE].settings
    limit = s.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise RequestError(413, None, f"body larger than {limit} bytes")
    try:
        async with asyncio.timeout(s.body_timeout_s):
            return await request.read()  # aiohttp stops at client_max_size (= limit)
    except web.HTTPRequestEntityTooLarge:
        raise RequestError(413, None, f"body larger than {limit} bytes") from None
    except TimeoutError:  # aiohttp closes the connection: the rest of the body is unread
        raise RequestError(408, None, f"body not received within {s.body_timeout_s:g} s"
                           ) from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    """The request body as `model`; 400/408/413/422 JSON errors otherwise."""
    raw = await read_body(request)
    if not raw.strip():
        raw = b"{}"
    try:
        data: Any = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise RequestError(400, None, f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(422, None, "body must be a JSON object")
    try:
        # JSON-mode strict validation: enums from strings, but no bool/int/float coercion.
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        where, text = field_of(exc)
        raise RequestError(422, where, text) from None
