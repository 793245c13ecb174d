"""Restart continuity, kill -9 recovery, quarantined checkpoints, SIGHUP, SIGTERM, bad input."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # starts, signals and kills real daemons

COUNTER = re.compile(rb"^neuron_device_energy_joules_total\{[^}]*\} (\S+)$", re.M)


def energy(d: Any) -> float:
    """Sum of one node's energy counters, straight from its Prometheus exposition."""
    iid = d.get_json("/sd")[0]["labels"]["instance"]
    status, _, body = d.request("GET", f"/metrics/nodes/{iid}")
    assert status == 200
    return sum(float(v) for v in COUNTER.findall(body))


def test_sigterm_checkpoints_and_restart_continues(daemon_factory: Any) -> None:
    d = daemon_factory("--speed", "20")
    assert d.notify.wait_for("WATCHDOG=1", 5) is not None  # pinged from the tick loop
    d.wait_tick(30)
    before_tick, before_energy = d.tick(), energy(d)
    # A loaded runner catches up several ticks per history row, so compare rows, not ticks.
    before_hist = d.get_json("/api/v1/history")["t"]
    assert before_hist
    assert d.stop(signal.SIGTERM) == 0
    assert "shutting down" in d.log
    ckpt = d.state_dir / "fleet.ckpt"
    assert ckpt.exists() and not list(d.state_dir.glob(".*.tmp"))

    d2 = daemon_factory("--speed", "20", state_dir=d.state_dir)
    assert d2.tick() >= before_tick
    assert energy(d2) >= before_energy  # counters never reset across a restart
    hist = d2.get_json("/api/v1/history")
    assert hist["t"][:len(before_hist)] == before_hist  # history survives too
    assert "restored tiny at tick" in d2.log
    assert d2.stop(signal.SIGINT) == 0


def test_notify_sequence_and_stopping(daemon_factory: Any) -> None:
    d = daemon_factory()
    assert d.ready_s < 10
    assert d.stop() == 0
    states = [m for m in d.notify.messages if m != "WATCHDOG=1"]
    assert states[0].startswith("READY=1\nSTATUS=serving tiny on http://")
    assert states[1:] == ["STOPPING=1"]


def test_kill_9_loses_at_most_one_interval(daemon_factory: Any) -> None:
    env = {"TRNMON_DAEMON__CHECKPOINT_INTERVAL_S": "1"}
    d = daemon_factory("--speed", "10", env=env)
    d.wait_tick(35)
    time.sleep(1.5)  # at least one periodic checkpoint after tick 35
    killed_at = d.tick()
    d.stop(signal.SIGKILL)
    d2 = daemon_factory("--speed", "10", state_dir=d.state_dir, env=env)
    # One checkpoint interval is 1 s = 10 ticks at speed 10; allow a tick of slack.
    assert d2.tick() >= killed_at - 12
    assert d2.tick() >= 35


def test_corrupt_checkpoint_is_moved_aside(daemon_factory: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "fleet.ckpt").write_bytes(b"PK\x03\x04 this is not a checkpoint")
    d = daemon_factory(state_dir=state)
    aside = list(state.glob("fleet.ckpt.bad-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"PK")
    lines = [ln for ln in d.log.splitlines() if "unusable" in ln]
    assert len(lines) == 1 and "starting a fresh fleet" in lines[0]
    assert d.tick() < 10  # a fresh fleet


def test_checkpoint_of_another_fleet_is_moved_aside(daemon_factory: Any) -> None:
    d = daemon_factory()
    d.wait_tick(2)
    assert d.stop() == 0
    d2 = daemon_factory(state_dir=d.state_dir, preset="ultraserver")
    assert list(d.state_dir.glob("fleet.ckpt.bad-*"))
    assert "different fleet" in d2.log


def test_sighup_reload(daemon_factory: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "fleet.toml"
    cfg.write_text('preset = "tiny"\n[daemon]\nspeed = 1.0\n')
    d = daemon_factory("--config", str(cfg))
    assert d.get_json("/api/v1/control")["speed"] == 1.0

    cfg.write_text('preset = "tiny"\n[faults]\nrate_multiplier = -2\n')
    n = len(d.notify.messages)
    d.send_signal(signal.SIGHUP)
    assert d.notify.wait_for("RELOADING=1", 5, start=n) is not None
    assert d.notify.wait_for("READY=1", 5, start=n + 1) is not None
    errors = [ln for ln in d.log.splitlines() if "reload failed" in ln]
    assert len(errors) == 1, d.log
    assert "faults.rate_multiplier" in errors[0]
    assert d.get_json("/healthz")["status"] == "ok"  # still running the old config

    cfg.write_text('preset = "tiny"\n[daemon]\nspeed = 5.0\n')
    d.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while d.get_json("/api/v1/control")["speed"] != 5.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert d.get_json("/api/v1/control")["speed"] == 5.0
    assert "reloaded configuration" in d.log


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trnmon", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_bad_flags_are_one_line(tmp_path: Path, daemon_factory: Any) -> None:
    r = run_cli("daemon", "--preset", "tiny", "--listen", "nowhere", "--state-dir",
                str(tmp_path / "s"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--listen" in r.stderr
    r = run_cli("daemon", "--preset", "tiny", "--speed", "-1", "--state-dir",
                str(tmp_path / "s"))
    assert r.returncode == 2 and "--speed" in r.stderr and "Traceback" not in r.stderr
    d = daemon_factory()
    r = run_cli("daemon", "--preset", "tiny", "--listen", f"127.0.0.1:{d.port}",
                "--state-dir", str(tmp_path / "other"))
    assert r.returncode == 2 and "cannot listen" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("daemon", "--preset", "tiny", "--listen", "127.0.0.1:0",
                "--state-dir", str(d.state_dir))
    assert r.returncode == 2 and "in use by another" in r.stderr
