"""Control endpoints (bearer token): faults, jobs, pause/resume and the clock speed.

Engine changes run on a worker thread through `runner.control`, which waits for the end of
the current tick; the event loop keeps serving scrapes meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from trnmon.daemon import control
from trnmon.daemon.control import FaultLimits, InjectFault, SetSpeed
from trnmon.daemon.inputs import parse_body, path_id, require_token
from trnmon.daemon.responses import fault_json
from trnmon.daemon.state import STATE
from trnmon.sim import Engine
from trnmon.sim.faultkinds import Fault
from trnmon.sim.workloads import JobSpec
from trnmon.snapshot.snapshot import FaultView

ROUTES = web.RouteTableDef()
T = TypeVar("T")


async def _in_engine(request: web.Request, fn: Callable[[Engine], T]) -> T:
    runner = request.app[STATE].runner
    return await asyncio.get_running_loop().run_in_executor(None, runner.control, fn)


def _fault_view(eng: Engine, f: Fault) -> FaultView:
    topo = eng.topo
    return FaultView(fault_id=f.fault_id, kind=f.kind.value, instance_id=eng.instance_id(f.node),
                     node=f.node, device=int(topo.chip_local[f.chip]) if f.chip >= 0 else -1,
                     chip=f.chip, port=f.port, started_at=f.started_at, clears_at=f.clears_at,
                     injected=f.injected)


@ROUTES.post("/api/v1/faults")
@require_token
async def inject_fault(request: web.Request) -> web.Response:
    req = await parse_body(request, InjectFault)
    s = request.app[STATE].settings
    limits = FaultLimits(total=s.max_active_faults, per_target=s.max_faults_per_target)
    view = await _in_engine(request, lambda e: _fault_view(e, control.inject(e, req, limits)))
    return web.json_response(fault_json(view), status=201)


@ROUTES.delete("/api/v1/faults/{fault_id}")
@require_token
async def clear_fault(request: web.Request) -> web.Response:
    fid = path_id(request, "fault_id")

    def clear(e: Engine) -> FaultView:
        # Named by the instance it was on: clearing a hard fault replaces that instance.
        node = e.faults.active[fid].node if fid in e.faults.active else -1
        iid = e.instance_id(node) if node >= 0 else ""
        view = _fault_view(e, control.clear(e, fid))
        return dataclasses.replace(view, instance_id=iid or view.instance_id)

    view = await _in_engine(request, clear)
    return web.json_response({**fault_json(view), "cleared": True})


@ROUTES.post("/api/v1/jobs")
@require_token
async def submit_job(request: web.Request) -> web.Response:
    spec = await parse_body(request, JobSpec)
    job_id = await _in_engine(request, lambda e: control.submit(e, spec))
    return web.json_response({"job_id": job_id, "status": "queued"}, status=201)


@ROUTES.delete("/api/v1/jobs/{job_id}")
@require_token
async def cancel_job(request: web.Request) -> web.Response:
    jid = path_id(request, "job_id")
    await _in_engine(request, lambda e: control.cancel(e, jid))
    return web.json_response({"job_id": jid, "status": "cancelled"})


def _status(request: web.Request) -> web.Response:
    r = request.app[STATE].runner
    return web.json_response({"paused": r.paused, "speed": r.engine.speed,
                              "tick": r.snapshot.tick})


@ROUTES.post("/api/v1/control/pause")
@require_token
async def pause(request: web.Request) -> web.Response:
    await parse_body(request, control.Request)  # an empty object; anything else is refused
    request.app[STATE].runner.pause(True)
    return _status(request)


@ROUTES.post("/api/v1/control/resume")
@require_token
async def resume(request: web.Request) -> web.Response:
    await parse_body(request, control.Request)
    request.app[STATE].runner.pause(False)
    return _status(request)


@ROUTES.put("/api/v1/control/speed")
@require_token
async def set_speed(request: web.Request) -> web.Response:
    req = await parse_body(request, SetSpeed)
    request.app[STATE].runner.set_speed(req.speed)
    return _status(request)


def add(app: web.Application) -> None:
    app.add_routes(ROUTES)
