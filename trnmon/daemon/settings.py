"""Resolved daemon settings: the `[daemon]` config section plus flags, paths made concrete."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trnmon.config.daemon import default_state_dir
from trnmon.config.model import FleetConfig
from trnmon.errors import TrnmonError
from trnmon.sim.cells import parse_shard


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    state_dir: Path
    token_file: Path
    speed: float
    checkpoint_interval_s: float
    history_ticks: int
    max_body_bytes: int
    shard: tuple[int, int] | None = None  # --shard I/N: (I, N), I from 1

    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / "fleet.ckpt"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def parse_listen(text: str) -> tuple[str, int]:
    """'127.0.0.1:9464' or '[::1]:9464' -> (host, port); one clear error otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise TrnmonError(f"--listen: expected HOST:PORT with a port 0-65535, got {text!r}")
    return host, int(port)


def resolve(config: FleetConfig, *, listen: str | None = None, state_dir: str | None = None,
            speed: float | None = None, environ: Mapping[str, str] | None = None,
            shard: str | None = None) -> Settings:
    env = os.environ if environ is None else environ
    d = config.daemon
    host, port = parse_listen(listen or d.listen)
    sdir = Path(state_dir or d.state_dir or default_state_dir(env)).expanduser()
    if speed is not None and not 0 < speed <= 100_000:
        raise TrnmonError(f"--speed: must be above 0 and at most 100000, got {speed}")
    return Settings(
        host=host, port=port, state_dir=sdir,
        token_file=Path(d.token_file).expanduser() if d.token_file else sdir / "token",
        speed=speed if speed is not None else d.speed,
        checkpoint_interval_s=d.checkpoint_interval_s, history_ticks=d.history_ticks,
        max_body_bytes=d.max_body_bytes,
        shard=parse_shard(shard) if shard is not None else None)
