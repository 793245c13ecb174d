"""A small HTTP client for the daemon's API: `trnmon inject`, `jobs`, `clock` and
`trnmon monitor --connect` use it.

It lives in the API layer (beside the models it carries), so `trnmon.neuron_monitor`,
`trnmon.sources` and the commands may all use it without importing the daemon. Plain
urllib (no event loop for a one-shot command). Every failure becomes one line: the
daemon's JSON error message, or why the daemon could not be reached.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from trnmon.config.daemon import DEFAULT_LISTEN, default_state_dir
from trnmon.errors import TrnmonError

TIMEOUT_S = 10.0


def default_url() -> str:
    return os.environ.get("TRNMON_URL") or f"http://{DEFAULT_LISTEN}"


def default_token_file() -> Path:
    env = os.environ.get("TRNMON_TOKEN_FILE")
    return Path(env) if env else default_state_dir(os.environ) / "token"


def read_token(path: Path) -> str:
    """The control token a client sends: the file must already exist (the daemon makes it)."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TrnmonError(f"token file {path}: {exc.strerror or exc}") from None
    if not token:
        raise TrnmonError(f"token file {path}: empty")
    return token


class Client:
    """Requests to one daemon; `auth=True` sends the control token."""

    def __init__(self, url: str, token_file: Path | None = None) -> None:
        self.url = url.rstrip("/")
        self.token_file = token_file

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                *, auth: bool = False) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            path_ = self.token_file or default_token_file()
            headers["Authorization"] = f"Bearer {read_token(path_)}"
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise TrnmonError(f"daemon answered {exc.code}: {_message(exc)}") from None
        except urllib.error.URLError as exc:
            reason = getattr(exc.reason, "strerror", None) or exc.reason
            raise TrnmonError(f"cannot reach the daemon at {self.url}: {reason} "
                              "(is `trnmon daemon` running? see --url)") from None
        except (TimeoutError, ConnectionError) as exc:
            raise TrnmonError(f"daemon at {self.url}: {exc}") from None
        except ValueError:
            raise TrnmonError(f"daemon at {self.url} sent a response that is not JSON") from None


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        return str(body.get("error", body))
    except (ValueError, AttributeError):
        return str(exc.reason)
