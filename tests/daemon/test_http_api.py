"""The daemon's HTTP surface against a live subprocess: reads, control, errors, stream."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from tests.conftest_daemon import DaemonProcess

pytestmark = pytest.mark.slow  # starts a real daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = DaemonProcess(tmp_path_factory.mktemp("http") / "state").start()
    yield d
    d.kill()


def node_ids(d: DaemonProcess) -> list[str]:
    return [n["instance_id"] for n in d.get_json("/api/v1/topology")["nodes"]]


def test_read_endpoints(daemon: DaemonProcess) -> None:
    d = daemon
    assert d.get_json("/healthz")["status"] == "ok"
    assert d.get_json("/readyz")["status"] == "ready"
    status, hdrs, body = d.request("GET", "/")
    assert status == 200 and b"/sd" in body and hdrs["content-type"].startswith("text/html")
    status, hdrs, body = d.request("GET", "/metrics")
    assert status == 200 and b"trnmon_tick " in body and b"trnmon_tick_lag_seconds" in body
    assert hdrs["content-type"].startswith("text/plain; version=0.0.4")
    ids = node_ids(d)
    sd = d.get_json("/sd")
    assert [g["labels"]["instance"] for g in sd] == ids
    for g in sd:
        assert g["targets"] == [f"127.0.0.1:{d.port}"]
        assert g["labels"]["__metrics_path__"] == f"/metrics/nodes/{g['labels']['instance']}"
        assert {"region", "availability_zone", "row", "rack", "ultraserver",
                "instance_type"} <= set(g["labels"])
    for iid in ids:
        status, hdrs, body = d.request("GET", f"/metrics/nodes/{iid}")
        assert status == 200 and f'instance_id="{iid}"'.encode() in body
    summary = d.get_json("/api/v1/summary")
    assert summary["totals"]["nodes"] == 6 and len(summary["nodes"]) == 6
    detail = d.get_json(f"/api/v1/nodes/{ids[0]}")
    assert len(detail["devices"]) == 16
    jobs = d.get_json("/api/v1/jobs")
    assert jobs["jobs"] and {"jobs", "queued"} <= set(jobs)
    assert "faults" in d.get_json("/api/v1/faults")
    assert "events" in d.get_json("/api/v1/events?since=0")
    hist = d.get_json("/api/v1/history")
    assert hist["scope"] == "fleet" and len(hist["t"]) >= 1
    assert d.get_json(f"/api/v1/history?scope={ids[0]}")["scope"] == ids[0]
    assert d.get_json(f"/api/v1/history?scope={ids[0]}/nd3")["scope"] == f"{ids[0]}/nd3"


@pytest.mark.parametrize("path", ["/metrics/nodes/i-0000000000000000f", "/metrics/nodes/x",
                                  "/api/v1/nodes/i-0000000000000000f",
                                  "/api/v1/history?scope=i-0000000000000000f"])
def test_unknown_node_is_404(daemon: DaemonProcess, path: str) -> None:
    status, _, _ = daemon.request("GET", path)
    assert status == 404


def error(d: DaemonProcess, method: str, path: str, body: Any = None, **kw: Any
          ) -> tuple[int, dict[str, Any]]:
    status, hdrs, raw = d.request(method, path, body, **kw)
    assert hdrs["content-type"].startswith("application/json"), raw
    return status, json.loads(raw)


def test_control_needs_the_token(daemon: DaemonProcess) -> None:
    iid = node_ids(daemon)[0]
    body = {"kind": "chip_hang", "instance_id": iid}
    assert error(daemon, "POST", "/api/v1/faults", body)[0] == 401
    assert error(daemon, "POST", "/api/v1/faults", body, token="x" * 40)[0] == 401
    assert error(daemon, "POST", "/api/v1/control/pause", {},
                 headers={"Authorization": "Basic abc"})[0] == 401


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"kind": "chip_hang"}, 422, "instance_id"),
    ({"kind": "meltdown", "instance_id": "{iid}"}, 422, "kind"),
    ({"kind": "chip_hang", "instance_id": "{iid}", "bogus": 1}, 422, "bogus"),
    ({"kind": "chip_hang", "instance_id": "{iid}", "device": 99}, 422, "device"),
    ({"kind": "chip_hang", "instance_id": "{iid}", "device": 5, "port": 2}, 422, "port"),
    ({"kind": "link_down", "instance_id": "{iid}", "port": 9}, 422, "port"),
    ({"kind": "chip_hang", "instance_id": "{iid}", "duration_s": -1}, 422, "duration_s"),
    ({"kind": "chip_hang", "instance_id": "i-0000000000000000f"}, 404, "instance_id"),
])
def test_fault_validation(daemon: DaemonProcess, body: dict[str, Any], status: int,
                          field: str) -> None:
    iid = node_ids(daemon)[0]
    body = {k: (v.format(iid=iid) if isinstance(v, str) else v) for k, v in body.items()}
    got, err = error(daemon, "POST", "/api/v1/faults", body, token=True)
    assert (got, err.get("field")) == (status, field), err
    assert err["error"]


def test_bad_bodies(daemon: DaemonProcess) -> None:
    d = daemon
    assert error(d, "POST", "/api/v1/jobs", raw=b"{not json", token=True)[0] == 400
    assert error(d, "POST", "/api/v1/jobs", raw=b"\xff\xfe", token=True)[0] == 400
    assert error(d, "POST", "/api/v1/jobs", [1, 2], token=True)[0] == 422
    big = b'{"kind": "' + b"x" * 100_000 + b'"}'
    assert error(d, "POST", "/api/v1/jobs", raw=big, token=True)[0] == 413
    status, err = error(d, "POST", "/api/v1/jobs", {"kind": "pretrain", "model": "llama3-8b",
                                                    "nodes": 99}, token=True)
    assert (status, err["field"]) == (422, "nodes")
    status, err = error(d, "POST", "/api/v1/jobs", {"kind": "pretrain",
                                                    "model": "xllama3-8bx"}, token=True)
    assert (status, err["field"]) == (422, "model")
    assert error(d, "PUT", "/api/v1/control/speed", {"speed": 0}, token=True)[1]["field"] == (
        "speed")
    assert error(d, "DELETE", "/api/v1/faults/999999", token=True)[0] == 404
    assert error(d, "DELETE", "/api/v1/jobs/999999", token=True)[0] == 404
    assert error(d, "GET", "/api/v1/events?since=-1")[0] == 422
    assert error(d, "GET", "/api/v1/nope")[0] == 404
    assert error(d, "PATCH", "/api/v1/faults")[0] == 405


def test_faults_jobs_and_clock(daemon: DaemonProcess) -> None:
    d = daemon
    iid = node_ids(d)[0]
    status, f = error(d, "POST", "/api/v1/faults",
                      {"kind": "link_degraded", "instance_id": iid, "device": 2}, token=True)
    assert status == 201 and f["device"] == 2 and f["port"] >= 0
    assert f["fault_id"] in [x["fault_id"] for x in d.get_json("/api/v1/faults")["faults"]]
    status, cleared = error(d, "DELETE", f"/api/v1/faults/{f['fault_id']}", token=True)
    assert status == 200 and cleared["cleared"]

    spec = {"kind": "inference", "model": "llama3-8b", "instance_family": "inf2",
            "name": "probe"}
    status, job = error(d, "POST", "/api/v1/jobs", spec, token=True)
    assert status == 201
    listed = d.get_json("/api/v1/jobs")
    assert job["job_id"] in [j["job_id"] for j in listed["jobs"] + listed["queued"]]
    assert error(d, "DELETE", f"/api/v1/jobs/{job['job_id']}", token=True)[0] == 200

    assert error(d, "POST", "/api/v1/control/pause", {}, token=True)[1]["paused"] is True
    t0 = d.tick()
    import time
    time.sleep(1.5)
    assert d.tick() == t0
    assert error(d, "PUT", "/api/v1/control/speed", {"speed": 20}, token=True)[1]["speed"] == 20
    assert error(d, "POST", "/api/v1/control/resume", {}, token=True)[1]["paused"] is False
    d.wait_tick(t0 + 10, timeout=5)
    assert error(d, "PUT", "/api/v1/control/speed", {"speed": 1}, token=True)[0] == 200


def test_stream_pushes_a_summary_each_tick(daemon: DaemonProcess) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    conn.request("GET", "/api/v1/stream")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    ticks = []
    while len(ticks) < 3:
        line = resp.fp.readline().decode()
        if line.startswith("data: "):
            ticks.append(json.loads(line[6:])["tick"])
    conn.close()
    assert ticks == sorted(ticks) and ticks[-1] > ticks[0]
