"""`trnmon inject`, `trnmon jobs` and `trnmon clock` against a running daemon."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # starts real daemons


def cli(d: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trnmon", *args, "--url", d.url,
                           "--token-file", str(d.state_dir / "token")],
                          capture_output=True, text=True, timeout=30)


def test_inject_jobs_clock(daemon_factory: Any) -> None:
    d = daemon_factory()
    iid = d.get_json("/sd")[2]["labels"]["instance"]
    r = cli(d, "inject", "thermal_throttle", "--node", iid, "--device", "1")
    assert r.returncode == 0 and r.stdout.startswith("fault "), r.stderr
    fid = r.stdout.split()[1].rstrip(":")
    assert fid in cli(d, "inject", "--list").stdout
    assert cli(d, "inject", "--clear", fid).stdout.startswith(f"cleared fault {fid}")

    r = cli(d, "jobs", "submit", "--kind", "inference", "--model", "llama3-8b",
            "--set", "instance_family=inf2", "--set", "peak_rps=5")
    assert r.returncode == 0 and "queued" in r.stdout, r.stderr
    job_id = r.stdout.split()[1]
    assert job_id in cli(d, "jobs").stdout
    assert cli(d, "jobs", "cancel", job_id).returncode == 0

    assert "paused" in cli(d, "clock", "pause").stdout
    assert "speed 3x" in cli(d, "clock", "speed", "3").stdout
    assert "paused" not in cli(d, "clock", "resume").stdout


def test_cli_errors_are_one_line(daemon_factory: Any) -> None:
    d = daemon_factory()
    r = cli(d, "inject", "chip_hang", "--node", "i-0000000000000000f")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown node" in r.stderr
    r = cli(d, "jobs", "submit", "--kind", "pretrain", "--model", "gpt-5")
    assert r.returncode == 2 and "model" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "trnmon", "jobs", "--url", "http://127.0.0.1:1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "cannot reach the daemon" in r.stderr
    r = subprocess.run([sys.executable, "-m", "trnmon", "inject", "chip_hang", "--node", "x",
                        "--url", d.url, "--token-file", "/nonexistent/token"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "token file" in r.stderr
