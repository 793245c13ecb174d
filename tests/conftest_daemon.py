"""`trnmon daemon` as a real subprocess for tests: free port, real notify socket, cleanup.

The daemon listens on port 0 and reports its address in the STATUS= line of its READY=1
notification, received on a real AF_UNIX datagram socket: no port race, and every test
that starts a daemon also exercises the systemd protocol. Import the `daemon_factory`
fixture into a conftest to use it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 30.0


class NotifySocket:
    """A bound AF_UNIX datagram socket collecting sd_notify messages on a thread."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="trn-")  # short: sun_path holds 108 bytes
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._cond:
                self.messages.append(data.decode())
                self._cond.notify_all()

    def wait_for(self, needle: str, timeout: float, start: int = 0) -> str | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages[start:]:
                    if needle in m.split("\n"):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._thread.join(timeout=2)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class DaemonProcess:
    def __init__(self, state_dir: Path, *args: str, preset: str = "tiny",
                 env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()) -> None:
        self.state_dir = state_dir
        self.args = args
        self.prefix = prefix  # a command the daemon runs under (prlimit, setpriv)
        self.preset = preset
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.notify: NotifySocket | None = None
        self.url = ""
        self.port = 0
        self.ready_s = 0.0
        self.log_path = state_dir.parent / f"{state_dir.name}-daemon.log"

    def start(self, timeout: float = START_TIMEOUT_S) -> DaemonProcess:
        self.notify = NotifySocket()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRNMON_")}
        env.update({"NOTIFY_SOCKET": self.notify.path, "WATCHDOG_USEC": "1000000",
                    "PYTHONUNBUFFERED": "1", **self.env})
        cmd = [*self.prefix, sys.executable, "-m", "trnmon", "daemon", "--preset", self.preset,
               "--seed", "7", "--listen", "127.0.0.1:0", "--state-dir", str(self.state_dir),
               *self.args]
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env)
        deadline = started + timeout
        while time.monotonic() < deadline:
            msg = self.notify.wait_for("READY=1", 0.2)
            if msg is not None:
                self.ready_s = time.monotonic() - started
                m = re.search(r"on (http://[\d.]+:(\d+))", msg)
                assert m, msg
                self.url, self.port = m.group(1), int(m.group(2))
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.log}")
        self.kill()
        raise AssertionError(f"daemon not ready in {timeout} s: {self.log}")

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def token(self) -> str:
        return (self.state_dir / "token").read_text().strip()

    def request(self, method: str, path: str, body: Any = None, *, token: bool | str = False,
                raw: bytes | None = None, headers: dict[str, str] | None = None,
                timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        hdrs = dict(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        if token:
            hdrs["Authorization"] = f"Bearer {self.token if token is True else token}"
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def get_json(self, path: str) -> Any:
        status, _, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def tick(self) -> int:
        return int(self.get_json("/api/v1/control")["tick"])

    def wait_tick(self, at_least: int, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.tick()
            if t >= at_least:
                return t
            time.sleep(0.1)
        raise AssertionError(f"tick did not reach {at_least}")

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            self.kill()
        return rc

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.notify is not None:
            self.notify.close()  # messages stay readable


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[DaemonProcess] = []

    def make(*args: str, state_dir: Path | None = None, start: bool = True,
             **kw: Any) -> DaemonProcess:
        d = DaemonProcess(state_dir or tmp_path / "state", *args, **kw)
        started.append(d)
        return d.start() if start else d

    yield make
    for d in started:
        d.kill()
