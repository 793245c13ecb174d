"""Checkpoint files in the state directory: atomic writes, restore, quarantine of bad files.

A write goes to a temporary file in the same directory, is fsynced, renamed over the old
checkpoint and the directory fsynced, so a crash at any point leaves either the old or the
new checkpoint, never a torn one. A checkpoint that cannot be restored (damaged, another
fleet, an old format) is renamed aside with a timestamp, never deleted: it may be the only
copy of a long-running fleet, and an operator may want it back. A checkpoint the daemon
may not read (permissions) is not damage: that stops the daemon (exit 2) instead of
silently starting a fresh fleet over it. Temporary files left by a kill during a write are
removed at start (the state-directory lock proves no other writer owns them).

Files are created 0600 and the state directory must not be open to other users: it holds
the control token.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
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
    if not path.is_dir():
        raise TrnmonError(f"state directory {path}: not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise TrnmonError(f"state directory {path}: not writable")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise TrnmonError(f"state directory {path}: mode {mode:04o} lets other users in (it "
                          f"holds the control token); run: chmod 700 {path}")


def lock_state_dir(path: Path) -> IO[bytes]:
    """Hold an exclusive lock so two daemons never write the same checkpoint."""
    lock = path / "lock"
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise TrnmonError(f"lock file {lock}: {exc.strerror or exc} (remove it or fix its "
                          "permissions)") from None
    fh = os.fdopen(fd, "ab")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise TrnmonError(f"state directory {path} is in use by another trnmon daemon") from None
    return fh


def temp_files(path: Path) -> list[Path]:
    """Temporary files of interrupted writes of the checkpoint at `path`."""
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def sweep_temp_files(path: Path) -> int:
    """Remove what interrupted writes left behind (call with the state dir locked)."""
    removed = 0
    for tmp in temp_files(path):
        try:
            size = tmp.stat().st_size
            tmp.unlink()
        except OSError as exc:
            log.warning("cannot remove %s: %s", tmp, exc.strerror or exc)
            continue
        removed += size
        log.info("removed %s (%d bytes) left by an interrupted checkpoint write", tmp.name,
                 size)
    return removed


def save(ckpt: ck.Checkpoint, path: Path) -> int:
    """Write atomically (mode 0600); returns the bytes written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as fh:
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
    """The checkpoint at `path`, None if there is none; CheckpointError if damaged;
    TrnmonError (exit 2) if the daemon may not read it."""
    try:
        with path.open("rb") as fh:
            return ck.read(fh)
    except FileNotFoundError:
        return None
    except PermissionError as exc:
        raise TrnmonError(f"checkpoint {path}: {exc.strerror or exc}; fix its owner or mode "
                          "(or move it away to start a fresh fleet)") from None
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
