"""Raw-socket clients against a real daemon: split bodies, slowloris, idle and non-reading
clients, header floods, non-UTF-8 and non-ASCII input, vanishing stream clients, a
descriptor-limited daemon under 1,100 idle connections, and a distinct-Host flood on /sd.

Timeouts are set low through the environment (the same `[daemon]` keys an operator sets),
so "closed within the configured timeout" is checked in seconds, not minutes.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.daemon.rawhttp import (
    closed_after,
    connect,
    exchange,
    read_pipelined,
    read_response,
    rss_bytes,
    status_of,
)

pytestmark = pytest.mark.slow

TIMEOUT_S = 2.0
SHORT = {"TRNMON_DAEMON__IDLE_TIMEOUT_S": str(TIMEOUT_S),
         "TRNMON_DAEMON__BODY_TIMEOUT_S": str(TIMEOUT_S),
         "TRNMON_DAEMON__WRITE_TIMEOUT_S": str(TIMEOUT_S)}
SLACK_S = 1.5  # event-loop scheduling and our own polling granularity


def no_tracebacks(d: Any) -> None:
    log = d.log
    assert "Traceback" not in log, log[-3000:]
    assert "Too many open files" not in log or "Traceback" not in log


def gauge(d: Any, name: str) -> float:
    _, _, body = d.request("GET", "/metrics")
    m = re.search(rf"^{name} (\S+)$", body.decode(), re.M)
    assert m, name
    return float(m.group(1))


def control_head(d: Any, method: str, path: str, length: int, extra: str = "") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {d.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n"
            ).encode()


# --- bodies ------------------------------------------------------------------------------
def test_split_body_control_request_succeeds(daemon_factory: Any) -> None:
    d = daemon_factory(env=SHORT)
    body = json.dumps({"speed": 3.0}).encode()
    with connect(d.port) as s:
        s.sendall(control_head(d, "PUT", "/api/v1/control/speed", len(body)) + body[:6])
        time.sleep(0.05)  # two TCP pieces 50 ms apart
        s.sendall(body[6:])
        resp = read_response(s)
    assert status_of(resp) == 200, resp
    assert d.get_json("/api/v1/control")["speed"] == 3.0

    iid = d.get_json("/sd")[0]["labels"]["instance"]
    body = json.dumps({"kind": "hbm_ecc_corrected", "instance_id": iid}).encode()
    head = (f"POST /api/v1/faults HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {d.token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    with connect(d.port) as s:
        s.sendall(head)
        for piece in (body[:10], body[10:25], body[25:]):  # chunked, three pieces
            s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.05)
        s.sendall(b"0\r\n\r\n")
        resp = read_response(s)
    assert status_of(resp) == 201, resp
    no_tracebacks(d)


def test_body_that_never_arrives_is_408_within_the_timeout(daemon_factory: Any) -> None:
    d = daemon_factory(env=SHORT)
    with connect(d.port) as s:
        s.sendall(control_head(d, "POST", "/api/v1/jobs", 500) + b'{"kind": ')
        started = time.monotonic()
        resp = read_response(s, timeout=TIMEOUT_S + 5)
        took = time.monotonic() - started
    assert status_of(resp) == 408 and b"not received within" in resp
    assert took < TIMEOUT_S + SLACK_S


# --- connections -------------------------------------------------------------------------
def test_idle_and_slow_header_connections_are_closed_in_time(daemon_factory: Any) -> None:
    d = daemon_factory(env=SHORT)
    idle = connect(d.port)
    partial = connect(d.port)
    partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    trickle = connect(d.port)
    trickle.sendall(b"GET /healthz HTTP/1.1\r\n")
    started = time.monotonic()
    closed_at: float | None = None
    try:
        while time.monotonic() - started < TIMEOUT_S + SLACK_S + 1:
            trickle.sendall(b"X")  # one header byte every 0.2 s: slowloris
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        closed_at = time.monotonic() - started
    assert closed_at is not None and closed_at < TIMEOUT_S + SLACK_S, closed_at
    for s in (idle, partial):
        left = TIMEOUT_S + SLACK_S - (time.monotonic() - started)
        assert closed_after(s, max(left, 0.1)) is not None
        s.close()
    trickle.close()
    keep = connect(d.port)  # keep-alive: idle after its response, then closed
    keep.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(read_response(keep)) == 200
    took = closed_after(keep, TIMEOUT_S + SLACK_S)
    assert took is not None and took > TIMEOUT_S - 0.5, took
    keep.close()
    no_tracebacks(d)


def test_a_client_that_never_reads_is_cut_off(daemon_factory: Any) -> None:
    d = daemon_factory(env=SHORT)
    iid = d.get_json("/sd")[0]["labels"]["instance"]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", d.port))
    s.sendall(f"GET /metrics/nodes/{iid} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * 200)
    time.sleep(1.0)
    assert gauge(d, "trnmon_http_connections") >= 2  # us, and the /metrics request
    deadline = time.monotonic() + TIMEOUT_S + SLACK_S + 2
    while gauge(d, "trnmon_http_connections") > 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert gauge(d, "trnmon_http_connections") == 1  # only the /metrics request itself
    assert "did not read its response" in d.log
    s.close()
    no_tracebacks(d)


@pytest.mark.parametrize("soft", [1024])
def test_idle_connections_beyond_the_descriptor_limit(daemon_factory: Any, soft: int) -> None:
    """1,100 idle sockets against a daemon limited to 1,024 descriptors: /healthz answers."""
    d = daemon_factory(prefix=("prlimit", f"--nofile={soft}:{soft}"))
    cap = gauge(d, "trnmon_http_connections_max")
    assert cap == soft - 192  # headroom for the accept backlog and the daemon's own files
    socks = []
    try:
        for _ in range(1100):
            socks.append(connect(d.port))
        for _ in range(3):  # the kernel hands over backlogged connections over seconds
            time.sleep(1.0)
            status, _, body = d.request("GET", "/healthz", timeout=5)
            assert status == 200, body
        # The cap was reached and idle connections made room (instead of EMFILE).
        assert gauge(d, "trnmon_http_connections_evicted_total") >= 1
        assert gauge(d, "trnmon_http_connections") <= cap
    finally:
        for s in socks:
            s.close()
    assert "Too many open files" not in d.log
    no_tracebacks(d)


def test_soft_descriptor_limit_is_raised_for_the_cap(daemon_factory: Any) -> None:
    d = daemon_factory(prefix=("prlimit", "--nofile=512:4096"))
    assert d.proc is not None
    assert gauge(d, "trnmon_http_connections_max") == 1000  # the default, not 512 - 192
    limits = Path(f"/proc/{d.proc.pid}/limits").read_text()
    soft = re.search(r"^Max open files\s+(\d+)\s+(\d+)", limits, re.M)
    assert soft and int(soft.group(1)) >= 1000 + 192 and int(soft.group(2)) == 4096


def test_distinct_host_flood_on_sd_keeps_memory_flat(daemon_factory: Any) -> None:
    d = daemon_factory()
    assert d.proc is not None

    def flood(start: int, n: int) -> None:
        with connect(d.port) as s, s.makefile("rb") as fh:
            for base in range(start, start + n, 100):
                batch = b"".join(f"GET /sd HTTP/1.1\r\nHost: h{i}.example:{d.port}\r\n\r\n"
                                 .encode() for i in range(base, min(base + 100, start + n)))
                s.sendall(batch)
                for i in range(base, min(base + 100, start + n)):
                    resp = read_pipelined(fh)
                    assert status_of(resp) == 200
                    assert f'"h{i}.example:{d.port}"'.encode() in resp

    flood(0, 1000)  # warm: allocator arenas, first-use caches
    before = rss_bytes(d.proc.pid)
    flood(1000, 20_000)
    growth = rss_bytes(d.proc.pid) - before
    print(f"RSS growth over 20,000 distinct Host headers on /sd: {growth / 2**20:.2f} MiB")
    assert growth < 20 * 2**20, growth
    # A Host that is no address falls back to the daemon's own.
    resp = exchange(d.port, b"GET /sd HTTP/1.1\r\nHost: \xff\xfe<script>\r\n\r\n")
    assert status_of(resp) == 200 and f'"127.0.0.1:{d.port}"'.encode() in resp


# --- headers and odd input ---------------------------------------------------------------
def test_header_floods_and_odd_bytes_are_4xx_without_tracebacks(daemon_factory: Any) -> None:
    d = daemon_factory(env=SHORT)
    iid = d.get_json("/sd")[0]["labels"]["instance"]
    tok = d.token.encode()
    cases = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-F%d: y\r\n" % i for i in range(300)) + b"\r\n",  # too many headers
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # URL over 8 KB
        b"POST /api/v1/control/pause HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xe9\r\n"
        b"Content-Length: 2\r\n\r\n{}",
        b"POST /api/v1/control/pause HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok
        + b"\xff\r\nContent-Length: 2\r\n\r\n{}",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-\xe9: 1\r\n\r\n",  # non-ASCII header name
        b"GET /api/v1/events?since=%C2%B2 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # TLS to plain HTTP
    ]
    for raw in cases:
        resp = exchange(d.port, raw)
        assert resp, raw[:60]
        assert 400 <= status_of(resp) < 500, (raw[:80], resp[:300])
    for path in (b"/healthz", b"/sd", b"/api/v1/summary"):  # invalid UTF-8 in a value
        resp = exchange(d.port, b"GET " + path + b" HTTP/1.1\r\nHost: \xc3\x28\r\n"
                        b"X-Y: \xff\r\n\r\n")
        assert status_of(resp) == 200, resp[:300]
    codes = {
        "/api/v1/events?since=" + quote("²"): 422,
        "/api/v1/events?since=" + quote("٣"): 422,  # Arabic-Indic three
        "/api/v1/events?since=" + quote("３"): 422,  # fullwidth three
        "/api/v1/events?since=" + "9" * 4300: 422,
        f"/api/v1/history?scope={iid}/nd" + quote("²"): 404,
        f"/api/v1/history?scope={iid}/nd" + quote("１"): 404,
        "/metrics/nodes/" + quote("²"): 404,
        "/api/v1/nodes/" + "1" * 4300: 404,
    }
    for path, want in codes.items():
        status, _, body = d.request("GET", path)
        assert status == want, (path, status, body)
    for ident in ("²", "٣", "３", "1" * 4300):
        for which in ("faults", "jobs"):
            status, _, body = d.request("DELETE", f"/api/v1/{which}/{quote(ident)}", token=True)
            assert status == 404, (which, ident[:10], status, body)
    assert d.get_json("/healthz")["status"] == "ok"
    no_tracebacks(d)


def test_strict_types_in_control_bodies(daemon_factory: Any) -> None:
    d = daemon_factory()
    iid = d.get_json("/sd")[0]["labels"]["instance"]
    for path, method, body in [
            ("/api/v1/control/speed", "PUT", {"speed": True}),
            ("/api/v1/control/speed", "PUT", {"speed": "2"}),
            ("/api/v1/faults", "POST", {"kind": "chip_hang", "instance_id": iid,
                                        "device": True}),
            ("/api/v1/jobs", "POST", {"kind": "inference", "model": "llama3-8b",
                                      "nodes": True})]:
        status, _, raw = d.request(method, path, body, token=True)
        assert status == 422, (body, raw)
    assert d.get_json("/api/v1/control")["speed"] == 1.0


# --- the push stream ---------------------------------------------------------------------
def test_stream_clients_that_vanish_mid_write_and_head(daemon_factory: Any) -> None:
    d = daemon_factory("--speed", "20")
    for _ in range(15):
        s = connect(d.port)
        s.sendall(b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        assert b"event: summary" in s.recv(65536) or b"event: summary" in s.recv(65536)
        time.sleep(0.07)  # a tick's message is on its way
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST, not FIN
    s = connect(d.port)
    s.sendall(b"HEAD /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    deadline = time.monotonic() + 1.5  # bounded: a wrong server streams forever
    try:
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except TimeoutError:
        pass
    s.close()
    head, _, rest = got.partition(b"\r\n\r\n")
    assert status_of(got) == 200 and b"text/event-stream" in head
    assert rest == b"", rest[:200]  # headers only: no SSE body to a HEAD
    time.sleep(0.5)
    assert gauge(d, "trnmon_stream_clients") == 0
    no_tracebacks(d)
