"""The control-API token: a random secret in a 0600 file, compared in constant time.

The daemon refuses a token file that its group or other users can read or write (as ssh
does for keys): on a shared host that would hand the control API to every local user.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path

from trnmon.errors import TrnmonError

TOKEN_BYTES = 32


def load_or_create(path: Path) -> str:
    """Read the token, creating the file (mode 0600, exclusively) if it does not exist."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            # O_EXCL: two daemons starting at once cannot both write a different token.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(TOKEN_BYTES) + "\n")
        mode = stat.S_IMODE(path.stat().st_mode)
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TrnmonError(f"token file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TrnmonError(f"token file {path}: not UTF-8 text") from None
    if mode & 0o077:
        raise TrnmonError(f"token file {path}: mode {mode:04o} lets other users read or "
                          f"change it; run: chmod 600 {path}")
    if len(token) < 16:
        raise TrnmonError(f"token file {path}: token is shorter than 16 characters")
    return token


def matches(expected: str, header: str | None) -> bool:
    """True if an ``Authorization: Bearer <token>`` header carries the token."""
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Non-UTF-8 header bytes arrive as lone surrogates: surrogateescape keeps them bytes.
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"),
                               expected.encode())
