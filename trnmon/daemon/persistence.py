"""Checkpoint files in the state directory: atomic writes, restore, quarantine of bad files.

A write goes to a temporary file in the same directory, is fsynced, renamed over the old
checkpoint and the directory fsynced, so a crash at any point leaves either the old or the
new checkpoint, never a torn one. A checkpoint that cannot be restored (damaged, another
fleet, an old format) is renamed aside with a timestamp, never deleted: it may be the only
copy of a long-running fleet, and an operator may want it back.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import IO

from trnmon.errors import TrnmonError
from trnmon.sim import checkpoint as ck

log = logging.getLogger("trnmon.daemon")


def ensure_state_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise TrnmonError(f"state directory {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise TrnmonError(f"state directory {path}: not writable")


def lock_state_dir(path: Path) -> IO[bytes]:
    """Hold an exclusive lock so two daemons never write the same checkpoint."""
    fh = (path / "lock").open("ab")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise TrnmonError(f"state directory {path} is in use by another trnmon daemon") from None
    return fh


def save(ckpt: ck.Checkpoint, path: Path) -> int:
    """Write atomically; returns the bytes written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            ck.write(ckpt, fh)
            fh.flush()
            os.fsync(fh.fileno())
            size = fh.tell()
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return size


def load(path: Path) -> ck.Checkpoint | None:
    """The checkpoint at `path`, None if there is none; CheckpointError if damaged."""
    try:
        with path.open("rb") as fh:
            return ck.read(fh)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ck.CheckpointError(f"cannot read: {exc.strerror or exc}") from None


def move_aside(path: Path, reason: str) -> Path:
    """Rename a bad checkpoint to <name>.bad-<UTC time> and report it in one line."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = path.with_name(f"{path.name}.bad-{stamp}")
    n = 1
    while dest.exists():
        n += 1
        dest = path.with_name(f"{path.name}.bad-{stamp}-{n}")
    os.replace(path, dest)
    log.error("checkpoint %s unusable (%s): moved to %s, starting a fresh fleet",
              path, reason, dest.name)
    return dest
