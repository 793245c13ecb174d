"""Read-only endpoints (no token): metrics, service discovery, health, the v1 JSON views.

Handlers read `runner.snapshot` once and work on that immutable object, so a response is
always one consistent tick even while the engine moves on.
"""

from __future__ import annotations

import html
import json
import re
import time

from aiohttp import web

from trnmon.api.models import EventModel, QueuedJobModel
from trnmon.api.views import fleet_summary, fleet_topology, job_model, node_detail
from trnmon.daemon.control import RequestError, resolve_node
from trnmon.daemon.inputs import ascii_int, int_query
from trnmon.daemon.responses import fault_json, json_bytes, json_error
from trnmon.daemon.state import STATE, DaemonState
from trnmon.exporter.render import CONTENT_TYPE, render_self_metrics
from trnmon.neuron_monitor.report import reporter_for

ROUTES = web.RouteTableDef()


def _state(request: web.Request) -> DaemonState:
    return request.app[STATE]


@ROUTES.get("/metrics/nodes/{instance_id}")
async def node_metrics(request: web.Request) -> web.Response:
    st = _state(request)
    snap = st.runner.snapshot
    try:
        node = resolve_node(snap.topology, request.match_info["instance_id"],
                            snap.state.node_generation)
    except RequestError as exc:
        st.node_scrape_errors += 1
        return web.Response(status=404, text=exc.message + "\n")
    st.node_scrapes += 1
    if not snap.state.node_up[node]:
        # A lost node answers nothing useful: 503 makes Prometheus record up == 0.
        st.node_scrape_errors += 1
        return web.Response(status=503, text="node lost (node_loss fault)\n")
    text = st.renderer.render(snap, node)
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})


def _daemon_metrics(st: DaemonState) -> str:
    r = st.runner
    rows = [
        ("trnmon_tick_lag_seconds", "gauge", "How late the last tick started.", r.tick_lag_s),
        ("trnmon_tick_lag_max_seconds", "gauge",
         "Latest tick start over the last two minutes.", r.tick_lag_max_s),
        ("trnmon_ticks_skipped_total", "counter",
         "Ticks dropped because the engine fell too far behind real time.", r.ticks_skipped),
        ("trnmon_paused", "gauge", "1 while the emulated clock is paused.", float(r.paused)),
        ("trnmon_speed_ratio", "gauge", "Simulated seconds per wall second.",
         r.engine.speed),
        ("trnmon_checkpoints_total", "counter", "Checkpoints written.", r.checkpoints),
        ("trnmon_checkpoint_errors_total", "counter", "Checkpoint writes that failed.",
         r.checkpoint_errors),
        ("trnmon_checkpoint_duration_seconds", "gauge", "Wall time of the last checkpoint.",
         r.last_checkpoint_s),
        ("trnmon_node_scrapes_total", "counter", "Node exposition requests served.",
         st.node_scrapes),
        ("trnmon_node_scrape_errors_total", "counter",
         "Node exposition requests answered 404 or 503.", st.node_scrape_errors),
        ("trnmon_stream_clients", "gauge", "Connected push-stream clients.",
         len(st.hub.clients)),
        ("trnmon_http_connections", "gauge", "Open client connections.",
         st.guard.open_connections),
        ("trnmon_http_connections_max", "gauge",
         "Connection cap (max_connections, lowered to fit the descriptor limit).",
         st.guard.limit),
        ("trnmon_http_connections_evicted_total", "counter",
         "Idle connections closed to admit a new one at the cap.", st.guard.evicted),
        ("trnmon_http_connections_refused_total", "counter",
         "Connections answered 503 at the cap because none was idle.", st.guard.refused),
        ("process_start_time_seconds", "gauge", "Start time of the daemon since the epoch.",
         st.started_wall),
    ]
    return "".join(f"# HELP {n} {h}\n# TYPE {n} {t}\n{n} {float(v)!r}\n"
                   for n, t, h, v in rows)


@ROUTES.get("/metrics")
async def self_metrics(request: web.Request) -> web.Response:
    st = _state(request)
    text = render_self_metrics(st.runner.snapshot, st.renderer) + _daemon_metrics(st)
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})


# What /sd may echo back as the target address: a host name or IP literal and a port.
TARGET_HOST = re.compile(r"(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,253})(:[0-9]{1,5})?",
                         re.ASCII)
SD_HOLE = "\x00trnmon-sd-target\x00"  # stands for the target address in the cached body


def sd_target(request: web.Request, st: DaemonState) -> str:
    """The address Prometheus used to reach us (its Host header) if it looks like one,
    else the daemon's own listen address."""
    host = request.headers.get("Host", "")
    if TARGET_HOST.fullmatch(host):
        return host
    return (st.url or st.settings.url).removeprefix("http://")


@ROUTES.get("/sd")
async def service_discovery(request: web.Request) -> web.Response:
    """Prometheus HTTP SD: one target group per node, located by its target labels.

    The body is cached once with a placeholder for the target address and the request's
    host is spliced in per request: memory does not grow with distinct Host headers."""
    st = _state(request)
    snap = st.runner.snapshot
    topo = snap.topology
    replaced = int(snap.state.node_generation.sum())

    def build() -> bytes:
        groups = []
        for n, iid in enumerate(snap.instance_ids):
            labels = {"__metrics_path__": f"/metrics/nodes/{iid}", "instance": iid,
                      **topo.location(n)}
            groups.append({"targets": [SD_HOLE], "labels": labels})
        return json.dumps(groups).encode()

    body = st.cached("sd", replaced, build)  # rebuilt when a node is replaced
    hole = json.dumps(SD_HOLE).encode()
    return json_bytes(body.replace(hole, json.dumps(sd_target(request, st)).encode()))


@ROUTES.get("/")
async def landing(request: web.Request) -> web.Response:
    st = _state(request)
    snap = st.runner.snapshot
    topo = snap.topology
    links = "".join(f'<li><a href="/metrics/nodes/{i}">{i}</a></li>'
                    for i in snap.instance_ids[:10])
    more = f"<li>… {topo.n_nodes - 10} more in <a href='/sd'>/sd</a></li>" if (
        topo.n_nodes > 10) else ""
    body = f"""<!doctype html><html><head><title>trnmon daemon</title></head><body>
<h1>trnmon: {html.escape(topo.fleet_name)}</h1>
<p>{topo.n_nodes} nodes, {topo.n_chips} chips; tick {snap.tick}, simulated
t = {snap.t:.0f} s{' (paused)' if st.runner.paused else ''}.</p>
<ul><li><a href="/metrics">/metrics</a>: the daemon's own metrics</li>
<li><a href="/sd">/sd</a>: Prometheus HTTP service discovery</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a></li>
<li><a href="/api/v1/summary">/api/v1/summary</a>, <a href="/api/v1/topology">topology</a>,
<a href="/api/v1/jobs">jobs</a>, <a href="/api/v1/faults">faults</a>,
<a href="/api/v1/history">history</a>, <a href="/api/v1/stream">stream</a> (SSE)</li>
</ul><h2>Node targets</h2><ul>{links}{more}</ul></body></html>
"""
    return web.Response(text=body, content_type="text/html")


@ROUTES.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    r = _state(request).runner
    if r.crashed is not None or (r.first_tick.is_set() and not r.alive):
        return json_error(503, "engine thread stopped")
    return web.json_response({"status": "ok", "tick": r.snapshot.tick})


@ROUTES.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    st = _state(request)
    if st.runner.crashed is not None:
        return json_error(503, "engine thread stopped")
    if st.draining:
        return json_error(503, "shutting down")
    if not st.ready:
        return json_error(503, "starting")
    return web.json_response({"status": "ready", "tick": st.runner.snapshot.tick})


# --- the v1 JSON API ----------------------------------------------------------------------
@ROUTES.get("/api/v1/topology")
async def api_topology(request: web.Request) -> web.Response:
    st = _state(request)
    snap = st.runner.snapshot
    # Rebuilt when a node is replaced (its instance id changes), else cached for good.
    return json_bytes(st.cached("topology", int(snap.state.node_generation.sum()), lambda:
                                fleet_topology(snap.topology, snap.instance_ids)
                                .model_dump_json().encode()))


@ROUTES.get("/api/v1/summary")
async def api_summary(request: web.Request) -> web.Response:
    st = _state(request)
    snap = st.runner.snapshot
    return json_bytes(st.cached("summary", snap.tick,
                                lambda: fleet_summary(snap).model_dump_json().encode()))


@ROUTES.get("/api/v1/nodes/{instance_id}")
async def api_node(request: web.Request) -> web.Response:
    snap = _state(request).runner.snapshot
    node = resolve_node(snap.topology, request.match_info["instance_id"],
                            snap.state.node_generation)
    return json_bytes(node_detail(snap, node).model_dump_json().encode())


@ROUTES.get("/api/v1/nodes/{instance_id}/neuron-monitor")
async def api_node_neuron_monitor(request: web.Request) -> web.Response:
    """One neuron-monitor report line (JSON) for the node: counts since the previous
    request for that node (trnmon/neuron_monitor/report.py)."""
    st = _state(request)
    snap = st.runner.snapshot
    node = resolve_node(snap.topology, request.match_info["instance_id"],
                            snap.state.node_generation)
    return web.json_response(reporter_for(st.runner).report(snap, node))


@ROUTES.get("/api/v1/jobs")
async def api_jobs(request: web.Request) -> web.Response:
    snap = _state(request).runner.snapshot
    return web.json_response({
        "api_version": "v1", "tick": snap.tick,
        "jobs": [job_model(j).model_dump(mode="json") for j in snap.jobs],
        "queued": [QueuedJobModel(job_id=q.job_id, kind=q.kind, model=q.model, nodes=q.nodes,
                                  restarts=q.restarts).model_dump(mode="json")
                   for q in snap.queued]})


@ROUTES.get("/api/v1/faults")
async def api_faults(request: web.Request) -> web.Response:
    snap = _state(request).runner.snapshot
    return web.json_response({"api_version": "v1", "tick": snap.tick,
                              "faults": [fault_json(f) for f in snap.faults]})


@ROUTES.get("/api/v1/events")
async def api_events(request: web.Request) -> web.Response:
    snap = _state(request).runner.snapshot
    since = int_query(request, "since", 0)
    return web.json_response({"api_version": "v1", "tick": snap.tick, "events": [
        EventModel.model_construct(seq=e.seq, t=e.t, kind=e.kind,
                                   severity=e.severity,  # type: ignore[arg-type]
                                   text=e.text, instance_id=e.instance_id, device=e.device,
                                   job_id=e.job_id).model_dump(mode="json")
        for e in snap.events if e.seq > since]})


@ROUTES.get("/api/v1/history")
async def api_history(request: web.Request) -> web.Response:
    """?scope=fleet (default), an instance id, or <instance id>/nd<N> for one device."""
    st = _state(request)
    snap = st.runner.snapshot
    topo = snap.topology
    scope = request.query.get("scope", "fleet")
    hist = st.runner.history
    iid, _, dev = scope.partition("/")
    if scope != "fleet":
        node = resolve_node(topo, iid, snap.state.node_generation)
        chips = topo.node_chips(node)
        if dev:
            index = ascii_int(dev[2:]) if dev.startswith("nd") else None
            if index is None or index >= len(chips):
                raise RequestError(404, "scope", f"{iid} has devices nd0-nd{len(chips) - 1}")
            chip = chips[index]
    with st.runner.history_lock:
        if scope == "fleet":
            series = hist.fleet_series()
        elif dev:
            series = hist.device_series(chip, scope)
        else:
            series = hist.node_series(node, iid)
    return json_bytes(series.model_dump_json().encode())


@ROUTES.get("/api/v1/stream")
async def api_stream(request: web.Request) -> web.StreamResponse:
    st = _state(request)
    return await st.hub.handle(request, st.runner.snapshot)


@ROUTES.get("/api/v1/control")
async def api_control_status(request: web.Request) -> web.Response:
    r = _state(request).runner
    return web.json_response({"paused": r.paused, "speed": r.engine.speed,
                              "tick": r.snapshot.tick, "t": r.snapshot.t,
                              "tick_seconds": r.engine.config.tick_seconds,
                              "uptime_seconds": time.monotonic() - r.started_at})


def add(app: web.Application) -> None:
    app.add_routes(ROUTES)
