"""Raw-socket HTTP for adversarial tests: exact bytes on the wire, split when we choose."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path
from typing import Any

STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3}) ")


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_response(s: socket.socket, timeout: float = 10.0) -> bytes:
    """One whole response (Content-Length framed), or what arrived before EOF."""
    s.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return buf
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length: *(\d+)", head)
    if m is None:
        return buf
    need = int(m.group(1))
    while len(body) < need:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def read_pipelined(fh: Any) -> bytes:
    """One Content-Length framed response from a buffered reader (`sock.makefile("rb")`),
    leaving the next pipelined response in the buffer."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = fh.readline(65536)
        if not line:
            raise ConnectionError("closed mid-response")
        head += line
    m = re.search(rb"(?im)^content-length: *(\d+)", head)
    return head + (fh.read(int(m.group(1))) if m else b"")


def status_of(resp: bytes) -> int:
    m = STATUS.match(resp)
    assert m, resp[:200]
    return int(m.group(1))


def exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    with connect(port, timeout) as s:
        s.sendall(data)
        return read_response(s, timeout)


def closed_after(s: socket.socket, limit: float) -> float | None:
    """Seconds until the server closes `s` (EOF or reset), None if still open at `limit`."""
    started = time.monotonic()
    s.settimeout(0.1)
    while time.monotonic() - started < limit:
        try:
            data = s.recv(65536)
        except TimeoutError:
            continue
        except ConnectionError:
            return time.monotonic() - started
        if not data:
            return time.monotonic() - started
    return None


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")
