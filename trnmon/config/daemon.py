"""The `[daemon]` section of a fleet configuration: how `trnmon daemon` serves the fleet.

It lives beside the fleet model so one file (and `TRNMON_DAEMON__*` variables) configures
both, and `trnmon config check` validates it; flags override it like any other field.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PORT = 9464
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"


class DaemonConfig(BaseModel):
    """The daemon's own settings: where it listens and keeps state, how often it
    checkpoints (from flags, the environment and the config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = Field(DEFAULT_LISTEN, pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")
    """HOST:PORT to serve on; loopback by default (the control API must not be public)."""
    state_dir: str | None = Field(None, min_length=1)
    """Checkpoints and the control token; default $STATE_DIRECTORY, else
    $XDG_STATE_HOME/trnmon (~/.local/state/trnmon)."""
    token_file: str | None = Field(None, min_length=1)
    """Control-API token (created 0600 if missing); default <state_dir>/token."""
    speed: float = Field(1.0, ge=1e-3, le=100_000)
    """Simulated seconds per wall second (reloadable)."""
    checkpoint_interval_s: float = Field(30.0, ge=1, le=86_400)
    """Wall seconds between checkpoints: what a kill -9 can lose at most (reloadable)."""
    history_ticks: int = Field(600, ge=10, le=100_000)
    """Per-node history window, in ticks."""
    max_body_bytes: int = Field(65_536, ge=1024, le=16 << 20)
    """Largest control request body accepted (larger: 413)."""
    idle_timeout_s: float = Field(15.0, ge=0.5, le=300)
    """A connection that is not inside a request (idle keep-alive, nothing sent yet, or
    request line and headers still incomplete) is closed this many seconds after it
    connected or after its previous response: the header deadline and the idle limit."""
    body_timeout_s: float = Field(10.0, ge=0.5, le=300)
    """A control request body must arrive in full within this (else 408)."""
    write_timeout_s: float = Field(30.0, ge=0.5, le=300)
    """A response (or one push-stream message) the client does not read within this ends
    the connection."""
    max_connections: int = Field(1000, ge=16, le=1_000_000)
    """Open client connections at most (also kept below the descriptor limit); at the cap
    a new connection closes the longest-idle one, or is refused if none is idle."""
    max_header_count: int = Field(100, ge=16, le=1000)
    """Request headers at most (more: 400)."""
    max_field_bytes: int = Field(8190, ge=1024, le=65_536)
    """Longest request line or header line (longer: 400)."""
    max_active_faults: int = Field(256, ge=1, le=100_000)
    """Injected faults active at once, fleet-wide (more: 429; reloadable)."""
    max_faults_per_target: int = Field(4, ge=1, le=1000)
    """Active faults (injected or random) on one device, or one node for node_loss, at
    which a new injection there is refused (409; reloadable)."""


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """Where the daemon keeps checkpoints and its token: systemd's StateDirectory=, else
    $XDG_STATE_HOME/trnmon (~/.local/state/trnmon). Shared by the daemon and its clients."""
    if environ.get("STATE_DIRECTORY"):  # set by systemd's StateDirectory=
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "trnmon"
