"""A fuzz over every route and method: random path parameters, query strings, headers
(including non-UTF-8 bytes) and bodies, with and without the token. Never a 5xx, and the
daemon's log never shows a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest_daemon import DaemonProcess
from tests.daemon.rawhttp import connect, status_of
from trnmon.daemon import routes, routes_control

pytestmark = pytest.mark.slow

PATHS = sorted({r.path for table in (routes.ROUTES, routes_control.ROUTES)
                for r in table if hasattr(r, "path")})
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"]
ODD = ["²", "٣", "３", "9" * 4300, "..", "%00", "nd²", "-1", "1e3", " ", "\udce9"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    d = DaemonProcess(tmp_path_factory.mktemp("routefuzz") / "state", "--speed", "5").start()
    yield d
    assert "Traceback" not in d.log, d.log[-3000:]
    d.kill()


def fill(path: str, value: str) -> str:
    out = path
    while "{" in out:
        a, b = out.index("{"), out.index("}")
        out = out[:a] + quote(value.encode("utf-8", "surrogateescape"), safe="") + out[b + 1:]
    return out


text = st.text(max_size=12)
param = st.one_of(text, st.sampled_from(ODD), st.integers(-5, 10**20).map(str))
header_value = st.one_of(st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"")
                                                    .replace(b"\n", b"")),
                         st.sampled_from([b"Bearer \xe9", b"\xff\xfe", b"application/json"]))


def ask(d: DaemonProcess, raw: bytes) -> int:
    with connect(d.port, timeout=10) as s:
        s.sendall(raw)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return status_of(buf)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(PATHS), method=st.sampled_from(METHODS), value=param,
       use_id=st.booleans(), query=st.dictionaries(st.sampled_from(
           ["since", "scope", "x", "²"]), param, max_size=2),
       headers=st.lists(st.tuples(st.sampled_from(
           [b"Authorization", b"Content-Type", b"Host", b"X-A", b"Accept", b"Range"]),
           header_value), max_size=4),
       token=st.booleans(), body=st.one_of(st.binary(max_size=64), st.sampled_from(
           [b"{}", b'{"speed": 2}', b'{"speed": true}', b"[" * 5000, b'{"kind": "x"}'])))
def test_every_route_and_method(daemon: DaemonProcess, path: str, method: str, value: str,
                                use_id: bool, query: dict[str, str],
                                headers: list[tuple[bytes, bytes]], token: bool,
                                body: bytes) -> None:
    ids = [g["labels"]["instance"] for g in daemon.get_json("/sd")]
    target = fill(path, ids[0] if use_id else value)
    if query:
        target += "?" + "&".join(f"{quote(k)}={quote(v.encode('utf-8', 'surrogateescape'))}"
                                 for k, v in query.items())
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Connection: close"]
    if token:
        lines.append(f"Authorization: Bearer {daemon.token}".encode())
    lines += [k + b": " + v for k, v in headers]
    if not any(k == b"Host" for k, _ in headers):
        lines.append(b"Host: 127.0.0.1")
    lines.append(b"Content-Length: %d" % len(body))
    status = ask(daemon, b"\r\n".join(lines) + b"\r\n\r\n" + body)
    assert status < 500, (method, target[:100], headers, status)


def test_the_fuzz_covers_every_route() -> None:
    assert {"/sd", "/healthz", "/api/v1/faults", "/api/v1/faults/{fault_id}",
            "/api/v1/control/speed", "/api/v1/stream", "/metrics/nodes/{instance_id}",
            "/api/v1/nodes/{instance_id}/neuron-monitor"} <= set(PATHS)


def test_no_traceback_so_far(daemon: DaemonProcess) -> None:
    assert daemon.get_json("/healthz")["status"] == "ok"
    assert "Traceback" not in daemon.log
