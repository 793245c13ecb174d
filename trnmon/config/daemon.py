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
    state_dir: str | None = None
    """Checkpoints and the control token; default $STATE_DIRECTORY, else
    $XDG_STATE_HOME/trnmon (~/.local/state/trnmon)."""
    token_file: str | None = None
    """Control-API token (created 0600 if missing); default <state_dir>/token."""
    speed: float = Field(1.0, gt=0, le=100_000)
    """Simulated seconds per wall second (reloadable)."""
    checkpoint_interval_s: float = Field(30.0, ge=1, le=86_400)
    """Wall seconds between checkpoints: what a kill -9 can lose at most (reloadable)."""
    history_ticks: int = Field(600, ge=10, le=100_000)
    """Per-node history window, in ticks."""
    max_body_bytes: int = Field(65_536, ge=1024, le=16 << 20)
    """Largest control request body accepted."""


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """Where the daemon keeps checkpoints and its token: systemd's StateDirectory=, else
    $XDG_STATE_HOME/trnmon (~/.local/state/trnmon). Shared by the daemon and its clients."""
    if environ.get("STATE_DIRECTORY"):  # set by systemd's StateDirectory=
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "trnmon"
