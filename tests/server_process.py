"""Start and stop a real server binary (Prometheus, Alertmanager) on a free loopback port.

`launch` binds nothing itself: it probes a free port, starts the binary with the argv
`argv(port)`, and waits for its `/-/ready` page; a port taken between the probe and the
bind makes the server exit, so it retries on another one (three tries). The server's
output goes to `log`, whose tail is the assertion message if it never gets ready.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(name: str, argv: Callable[[int], list[str]], log: Path,
           timeout: float = 30.0) -> tuple[int, subprocess.Popen[bytes]]:
    """The port and process of a server that answered /-/ready within `timeout`."""
    for _ in range(3):
        port = free_port()
        with log.open("ab") as out:
            proc = subprocess.Popen(argv(port), stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return port, proc
            except OSError:
                time.sleep(0.2)
        stop(proc)
    raise AssertionError(f"{name} did not start: " + log.read_text()[-2000:])


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Terminate (then kill after 10 s) a server started by `launch`, if still running."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
