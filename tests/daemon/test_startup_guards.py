"""Startup and shutdown against a hostile state directory and configuration: malformed
checkpoints, unreadable files, a lock that is not a file, loose permissions, empty flags,
absurd tick lengths, leftover temp files, and a final checkpoint that cannot be written."""

from __future__ import annotations

import math
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import preset_config
from trnmon.sim import Engine
from trnmon.sim import checkpoint as ck

pytestmark = pytest.mark.slow

# Runs a command without root's power to ignore file permissions (tests run as root in CI).
NO_DAC = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")


def run_cli(*args: str, prefix: tuple[str, ...] = (),
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRNMON_")}
    return subprocess.run([*prefix, sys.executable, "-m", "trnmon", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def one_line(r: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


def state_dir(tmp: Path) -> Path:
    d = tmp / "state"
    d.mkdir(mode=0o700)
    return d


def daemon_args(state: Path, *extra: str) -> tuple[str, ...]:
    return ("daemon", "--preset", "tiny", "--seed", "7", "--listen", "127.0.0.1:0",
            "--state-dir", str(state), *extra)


def tiny_checkpoint() -> ck.Checkpoint:
    eng = Engine(preset_config("tiny", seed=7, faults={"rate_multiplier": 300.0}))
    for _ in range(60):
        eng.step()
    eng.inject("chip_hang", chip=3)
    return ck.capture(eng)


CASES: dict[str, tuple[tuple[Any, ...], Any]] = {
    "meta.fleet a string": (("fleet",), "tiny"),
    'shard ["a","b"]': (("shard",), ["a", "b"]),
    "shard [1]": (("shard",), [1]),
    "fault out of range": (("faults", "active", 0, "chip"), 10**6),
    "job out of range": (("jobs", 0, "nodes"), [10**6]),
    "t NaN": (("engine", "t"), math.nan),
    "tick -5": (("engine", "tick"), -5),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_checkpoint_moved_aside_and_daemon_up(daemon_factory: Any, tmp_path: Path,
                                                       case: str) -> None:
    c = tiny_checkpoint()
    path, value = CASES[case]
    node = c.meta
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    state = state_dir(tmp_path)
    (state / "fleet.ckpt").write_bytes(ck.dumps(c))
    d = daemon_factory(state_dir=state)
    assert d.get_json("/healthz")["status"] == "ok"
    assert len(list(state.glob("fleet.ckpt.bad-*"))) == 1
    lines = [ln for ln in d.log.splitlines() if "unusable" in ln]
    assert len(lines) == 1 and "starting a fresh fleet" in lines[0], d.log
    assert "Traceback" not in d.log


def test_tick_seconds_5e_324_is_refused(tmp_path: Path, daemon_factory: Any) -> None:
    cfg = tmp_path / "fleet.toml"
    cfg.write_text('preset = "tiny"\ntick_seconds = 5e-324\n')
    one_line(run_cli("config", "check", str(cfg)), 2, "tick_seconds")
    one_line(run_cli(*daemon_args(state_dir(tmp_path), "--config", str(cfg))), 2,
             "tick_seconds")
    good = tmp_path / "good.toml"
    good.write_text('preset = "tiny"\n')
    d = daemon_factory("--config", str(good))
    good.write_text('preset = "tiny"\ntick_seconds = 1e-300\n')  # applied by SIGHUP
    d.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "reload failed" not in d.log and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "reload failed" in d.log and "tick_seconds" in d.log
    t0 = d.tick()
    d.wait_tick(t0 + 2)  # the engine keeps ticking on the old config
    assert d.get_json("/healthz")["status"] == "ok"


def test_empty_preset_and_state_dir_are_refused(tmp_path: Path) -> None:
    one_line(run_cli("daemon", "--preset", "", "--state-dir", str(tmp_path / "s")), 2,
             "--preset")
    one_line(run_cli("daemon", "--preset", "tiny", "--state-dir", ""), 2, "--state-dir")
    one_line(run_cli("daemon", "--preset", "tiny", "--listen", "127.0.0.1:²",
                     "--state-dir", str(tmp_path / "s")), 2, "--listen")


def test_loose_permissions_are_refused(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    one_line(run_cli(*daemon_args(loose)), 2, "chmod 700")
    state = state_dir(tmp_path)
    (state / "token").write_text("x" * 40 + "\n")
    (state / "token").chmod(0o644)
    one_line(run_cli(*daemon_args(state)), 2, "chmod 600")


def test_lock_that_is_not_a_writable_file(tmp_path: Path) -> None:
    state = state_dir(tmp_path)
    (state / "lock").mkdir()
    one_line(run_cli(*daemon_args(state)), 2, "lock file")
    (state / "lock").rmdir()
    (state / "lock").write_bytes(b"")
    (state / "lock").chmod(0o400)
    one_line(run_cli(*daemon_args(state), prefix=NO_DAC), 2, "lock file")


def test_unreadable_checkpoint_stops_with_exit_2(tmp_path: Path) -> None:
    state = state_dir(tmp_path)
    ckpt = state / "fleet.ckpt"
    ckpt.write_bytes(ck.dumps(tiny_checkpoint()))
    ckpt.chmod(0)
    one_line(run_cli(*daemon_args(state), prefix=NO_DAC), 2, "checkpoint", "Permission")
    assert ckpt.exists() and not list(state.glob("fleet.ckpt.bad-*"))  # not "damaged"


def test_temp_files_swept_and_checkpoint_0600(daemon_factory: Any, tmp_path: Path) -> None:
    state = state_dir(tmp_path)
    for pid in (101, 102):
        (state / f".fleet.ckpt.{pid}.tmp").write_bytes(b"\0" * 4096)
    d = daemon_factory(state_dir=state)
    assert not list(state.glob(".fleet.ckpt.*.tmp"))
    assert d.log.count("left by an interrupted checkpoint write") == 2
    assert d.stop() == 0
    mode = stat.S_IMODE((state / "fleet.ckpt").stat().st_mode)
    assert mode == 0o600, oct(mode)


def test_failed_final_checkpoint_is_not_reported_as_saved(daemon_factory: Any) -> None:
    d = daemon_factory()
    assert d.proc is not None
    # A directory where the final write's temp file goes: the write fails like a full disk.
    (d.state_dir / f".fleet.ckpt.{d.proc.pid}.tmp").mkdir()
    assert d.stop() == 1
    log = d.log
    assert "final checkpoint was NOT written" in log
    assert "; checkpoint " not in log and "Traceback" not in log


def test_label_text_is_built_before_ready(daemon_factory: Any) -> None:
    d = daemon_factory()
    # Read as soon as READY=1 arrived: the daemon logs (unbuffered) before it notifies.
    assert "label text for 6 nodes built" in d.log
