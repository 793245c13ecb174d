"""daemon/trnmon.service: `systemd-analyze verify` passes and the security rating is <= 2.0."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[2] / "daemon" / "trnmon.service"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def test_unit_has_the_required_settings() -> None:
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "StateDirectory=trnmon",
                 "ConfigurationDirectory=trnmon", "DynamicUser=yes",
                 "ExecReload=/bin/kill -HUP $MAINPID", "LimitNOFILE=4096"):
        assert line in text


def test_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart's binary exists; on a test machine trnmon is not in
    # /usr/local/bin, so check a copy whose ExecStart runs this Python's trnmon instead.
    text = re.sub(r"^ExecStart=/usr/local/bin/trnmon ", f"ExecStart={sys.executable} -m trnmon ",
                  UNIT.read_text(), flags=re.M)
    unit = tmp_path / "trnmon.service"
    unit.write_text(text)
    r = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "trnmon.service" not in r.stderr, r.stderr  # no warnings about our unit


def test_security_rating() -> None:
    r = subprocess.run([ANALYZE, "security", "--offline=yes", str(UNIT)], capture_output=True,
                       text=True, timeout=60)
    m = re.search(r"Overall exposure level for trnmon.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0
