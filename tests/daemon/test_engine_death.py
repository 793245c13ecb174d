"""Issue 13: if the engine thread dies, /readyz fails and the daemon exits non-zero (so
systemd restarts it from its last checkpoint), logging why. The error is forced by a
wrapper that makes `Engine.step` raise from the fifth tick on."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

WRAPPER = """
import sys
from trnmon.sim.engine import Engine
real = Engine.step
calls = [0]
def step(self, *a, **kw):
    calls[0] += 1
    if calls[0] > 5:
        raise RuntimeError("forced engine error")
    return real(self, *a, **kw)
Engine.step = step
from trnmon.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_engine_death_fails_readyz_and_exits_non_zero(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRNMON_")}
    port_file = tmp_path / "state"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", WRAPPER, "daemon", "--preset", "tiny", "--listen",
             "127.0.0.1:0", "--state-dir", str(port_file), "--speed", "1"],
            stdout=subprocess.DEVNULL, stderr=fh, env=env)
    try:
        seen_503 = False
        deadline = time.monotonic() + 60
        port = 0
        while time.monotonic() < deadline and proc.poll() is None:
            text = log.read_text(errors="replace")
            if not port and " on http://127.0.0.1:" in text:
                port = int(text.split(" on http://127.0.0.1:")[1].split(";")[0].split()[0])
            if port:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/readyz")
                    if conn.getresponse().status == 503:
                        seen_503 = True
                    conn.close()
                except OSError:
                    pass
            time.sleep(0.05)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text(errors="replace")
    assert code == 1, text
    assert "engine thread died (RuntimeError: forced engine error)" in text
    assert seen_503, text
