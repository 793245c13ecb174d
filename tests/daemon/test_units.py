"""In-process pieces: systemd notify, checkpoints, persistence, token, settings."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import preset_config
from trnmon.daemon import persistence
from trnmon.daemon import token as tokens
from trnmon.daemon.notify import Notifier
from trnmon.daemon.settings import parse_listen, resolve
from trnmon.errors import TrnmonError
from trnmon.sim import Engine
from trnmon.sim import checkpoint as ck


@pytest.fixture
def dgram(tmp_path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(tmp_path / "n"))
    s.settimeout(2)
    yield s
    s.close()


def test_notify_over_a_real_datagram_socket(dgram: socket.socket, tmp_path: Path) -> None:
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "2000000"})
    assert n.enabled and n.watchdog_interval == 1.0
    assert n.ready("serving x")
    assert dgram.recv(512) == b"READY=1\nSTATUS=serving x"
    assert n.reloading()
    msg = dgram.recv(512).decode().split("\n")
    assert msg[0] == "RELOADING=1" and msg[1].startswith("MONOTONIC_USEC=")
    assert n.watchdog(now=100.0) and dgram.recv(512) == b"WATCHDOG=1"
    assert not n.watchdog(now=100.5)  # not due yet: half the timeout
    assert n.watchdog(now=101.1)
    assert n.stopping()
    assert dgram.recv(512) == b"WATCHDOG=1" and dgram.recv(512) == b"STOPPING=1"
    n.close()


def test_notify_abstract_socket() -> None:
    name = f"trnmon-test-{os.getpid()}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name)
    s.settimeout(2)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).stopping()
        assert s.recv(64) == b"STOPPING=1"
    finally:
        s.close()


def test_notify_is_a_noop_without_notify_socket() -> None:
    n = Notifier({"WATCHDOG_USEC": "1000000"})
    assert not n.enabled and n.watchdog_interval is None
    assert not n.ready() and not n.stopping() and not n.watchdog() and not n.reloading()


def test_restore_continues_the_same_trajectory() -> None:
    cfg = preset_config("tiny", seed=11, faults={"rate_multiplier": 300.0})
    a = Engine(cfg)
    for _ in range(40):
        a.step()
    a.inject("chip_hang", chip=3)
    a.inject("link_degraded", chip=20, port=1)
    a.inject("node_loss", node=4, duration_s=50)
    a.submit(a.scheduler.random_spec(a.rng))
    for _ in range(10):
        a.step()
    b = ck.restore(ck.loads(ck.dumps(ck.capture(a))), cfg)
    for _ in range(700):  # past the hang watchdog, repairs, completions, arrivals
        a.step()
        b.step()
    for name, arr in a.state.arrays().items():
        np.testing.assert_array_equal(arr, b.state.arrays()[name], err_msg=name)
    assert [(e.seq, e.text) for e in a.events] == [(e.seq, e.text) for e in b.events]
    assert a.scheduler.next_job_id == b.scheduler.next_job_id
    assert sorted(a.faults.active) == sorted(b.faults.active)
    assert a.rng.random() == b.rng.random()


def test_checkpoint_rejects_damage_and_other_fleets(tmp_path: Path) -> None:
    cfg = preset_config("tiny", seed=1)
    data = ck.dumps(ck.capture(Engine(cfg)))
    with pytest.raises(ck.CheckpointError):
        ck.loads(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    with pytest.raises(ck.CheckpointError):
        ck.restore(ck.loads(bytes(flipped)), cfg)
    with pytest.raises(ck.CheckpointError, match="different fleet"):
        ck.restore(ck.loads(data), preset_config("ultraserver"))


def test_atomic_save_and_move_aside(tmp_path: Path) -> None:
    path = tmp_path / "fleet.ckpt"
    c = ck.capture(Engine(preset_config("tiny")))
    persistence.save(c, path)
    assert persistence.load(path) is not None
    assert [p.name for p in tmp_path.iterdir()] == ["fleet.ckpt"]  # no temp file left
    dest = persistence.move_aside(path, "test")
    assert not path.exists() and dest.exists() and dest.name.startswith("fleet.ckpt.bad-")
    assert persistence.load(path) is None


def test_token_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "token"
    t = tokens.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(t) >= 32
    assert tokens.load_or_create(path) == t  # reused, not regenerated
    assert tokens.matches(t, f"Bearer {t}") and tokens.matches(t, f"bearer {t}")
    assert not tokens.matches(t, None) and not tokens.matches(t, t)
    assert not tokens.matches(t, f"Bearer {t}x") and not tokens.matches(t, "Bearer ")
    path.write_text("short")
    with pytest.raises(TrnmonError, match="shorter"):
        tokens.load_or_create(path)


def test_settings() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:80") == ("::1", 80)
    for bad in ("9464", "host:", "host:99999", ":80"):
        with pytest.raises(TrnmonError, match="--listen"):
            parse_listen(bad)
    s = resolve(preset_config("tiny"), environ={"STATE_DIRECTORY": "/var/lib/trnmon"})
    assert s.state_dir == Path("/var/lib/trnmon") and s.token_file == s.state_dir / "token"
    assert s.host == "127.0.0.1"  # loopback by default
