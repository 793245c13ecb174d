"""The aiohttp application: middlewares, the route table, and the server's limits.

Module dependencies run one way (no cycles): `state` and `responses`/`inputs` are shared
by the route modules, which this module assembles. Outermost middleware first: the
connection's busy mark and response deadline (`connections.write_deadline`), then the JSON
error shape (`responses.errors`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from trnmon.daemon import routes, routes_control
from trnmon.daemon.connections import write_deadline
from trnmon.daemon.responses import errors
from trnmon.daemon.settings import Settings
from trnmon.daemon.state import STATE, DaemonState

LINGER_S = 2.0  # after an early answer (413, 408), how long an unread body is drained


def build_app(state: DaemonState) -> web.Application:
    deadline = write_deadline(state.guard, lambda: state.settings.write_timeout_s)
    app = web.Application(middlewares=[deadline, errors],
                          client_max_size=state.settings.max_body_bytes)
    app[STATE] = state
    routes.add(app)
    routes_control.add(app)

    async def close_streams(app: web.Application) -> None:
        app[STATE].hub.close()

    app.on_shutdown.append(close_streams)
    return app


def server_options(s: Settings) -> dict[str, Any]:
    """aiohttp's per-connection limits, from the daemon settings."""
    return {"keepalive_timeout": s.idle_timeout_s, "max_line_size": s.max_field_bytes,
            "max_field_size": s.max_field_bytes, "max_headers": s.max_header_count,
            "lingering_time": LINGER_S}
