"""Resolved daemon settings: the `[daemon]` config section plus flags, paths made concrete.

Every limit and timeout the daemon enforces is a field here, with its default and bounds
declared once in `trnmon.config.daemon.DaemonConfig` (README "Security and limits").
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trnmon.config.daemon import default_state_dir
from trnmon.config.model import FleetConfig
from trnmon.errors import TrnmonError
from trnmon.sim.cells import parse_shard


@dataclass(frozen=True)
class Settings:
    """What one daemon run uses: addresses and paths resolved, limits from `[daemon]`."""

    host: str
    port: int
    state_dir: Path
    token_file: Path
    speed: float
    checkpoint_interval_s: float
    history_ticks: int
    max_body_bytes: int
    idle_timeout_s: float
    body_timeout_s: float
    write_timeout_s: float
    max_connections: int
    max_header_count: int
    max_field_bytes: int
    max_active_faults: int
    max_faults_per_target: int
    shard: tuple[int, int] | None = None  # --shard I/N: (I, N), I from 1

    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / "fleet.ckpt"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


PORT = re.compile(r"[0-9]{1,5}", re.ASCII)


def parse_listen(text: str) -> tuple[str, int]:
    """'127.0.0.1:9464' or '[::1]:9464' -> (host, port); one clear error otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not PORT.fullmatch(port) or not 0 <= int(port) <= 65535:
        raise TrnmonError(f"--listen: expected HOST:PORT with a port 0-65535, got {text!r}")
    return host, int(port)


def resolve(config: FleetConfig, *, listen: str | None = None, state_dir: str | None = None,
            speed: float | None = None, environ: Mapping[str, str] | None = None,
            shard: str | None = None) -> Settings:
    env = os.environ if environ is None else environ
    d = config.daemon
    if listen is not None and not listen.strip():
        raise TrnmonError("--listen: must not be empty")
    if state_dir is not None and not state_dir.strip():
        raise TrnmonError("--state-dir: must not be empty")
    host, port = parse_listen(listen or d.listen)
    sdir = Path(state_dir or d.state_dir or default_state_dir(env)).expanduser()
    if speed is not None and not 1e-3 <= speed <= 100_000:
        raise TrnmonError(f"--speed: must be 0.001 to 100000, got {speed}")
    return Settings(
        host=host, port=port, state_dir=sdir,
        token_file=Path(d.token_file).expanduser() if d.token_file else sdir / "token",
        speed=speed if speed is not None else d.speed,
        checkpoint_interval_s=d.checkpoint_interval_s, history_ticks=d.history_ticks,
        max_body_bytes=d.max_body_bytes,
        shard=parse_shard(shard_text(shard)) if shard is not None else None,
        idle_timeout_s=d.idle_timeout_s, body_timeout_s=d.body_timeout_s,
        write_timeout_s=d.write_timeout_s, max_connections=d.max_connections,
        max_header_count=d.max_header_count, max_field_bytes=d.max_field_bytes,
        max_active_faults=d.max_active_faults, max_faults_per_target=d.max_faults_per_target)


def shard_text(text: str) -> str:
    """`I-N` (a systemd instance name, `trnmon@2-4.service`) means `I/N`."""
    return text if "/" in text else text.replace("-", "/", 1)
