"""Slow and abandoned clients cannot stall the tick: the engine has its own thread."""

from __future__ import annotations

import re
import socket
import time
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # starts a real daemon


def gauge(d: Any, name: str) -> float:
    _, _, body = d.request("GET", "/metrics")
    m = re.search(rf"^{name} (\S+)$", body.decode(), re.M)
    assert m, name
    return float(m.group(1))


def test_slow_and_abandoned_clients_do_not_stall_the_tick(daemon_factory: Any) -> None:
    d = daemon_factory("--speed", "10")
    ids = [g["labels"]["instance"] for g in d.get_json("/sd")]
    socks = []
    try:
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            if i % 4 == 0:  # slowloris: half a request line, never finished
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            elif i % 4 == 1:  # a push stream nobody reads
                s.sendall(b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n")
            elif i % 4 == 2:  # a scrape whose answer nobody reads
                s.sendall(f"GET /metrics/nodes/{ids[i % 6]} HTTP/1.1\r\nHost: x\r\n\r\n"
                          .encode())
            else:  # a control body that never arrives
                s.sendall(b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: 5000\r\n\r\n{")
            socks.append(s)
        t0, started = d.tick(), time.monotonic()
        time.sleep(3)
        ticks = d.tick() - t0
        elapsed = time.monotonic() - started
        assert ticks >= 0.8 * 10 * elapsed - 5, (ticks, elapsed)  # speed 10: ~10 ticks/s
        assert gauge(d, "trnmon_tick_lag_max_seconds") < 0.5
        status, _, _ = d.request("GET", f"/metrics/nodes/{ids[0]}", timeout=5)
        assert status == 200  # other clients are still served
    finally:
        for s in socks:
            s.close()
    assert d.get_json("/healthz")["status"] == "ok"
