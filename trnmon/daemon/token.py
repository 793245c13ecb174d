"""The control-API token: a random secret in a 0600 file, compared in constant time."""

from __future__ import annotations

import hmac
import os
import secrets
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
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TrnmonError(f"token file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TrnmonError(f"token file {path}: not UTF-8 text") from None
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
    return hmac.compare_digest(given.strip().encode(), expected.encode())
