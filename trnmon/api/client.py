"""A small HTTP client for the daemon's API: `trnmon inject`, `jobs`, `clock` and
`trnmon monitor --connect` use it.

It lives in the API layer (beside the models it carries), so `trnmon.neuron_monitor`,
`trnmon.sources` and the commands may all use it without importing the daemon. Plain
urllib (no event loop for a one-shot command). Every failure becomes one line: a URL that
is not http(s)://HOST[:PORT], the daemon's JSON error message, why the daemon could not be
reached, or an answer that does not have the shape the command needs (`expect`).
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

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


class Answer(BaseModel):
    """Base of the answer shapes the control commands read (other fields pass through)."""

    model_config = ConfigDict(extra="allow")


class FaultAnswer(Answer):
    """A fault as `inject` prints it."""

    fault_id: int
    kind: str
    instance_id: str
    device: int
    injected: bool = False


class FaultList(Answer):
    """GET /api/v1/faults."""

    faults: list[FaultAnswer]


class JobAnswer(Answer):
    """A submitted or cancelled job."""

    job_id: int


class JobRow(Answer):
    """A running job as `jobs` lists it."""

    job_id: int
    state: str
    kind: str
    model: str
    nodes: list[int]
    progress: float


class QueuedRow(Answer):
    """A queued job as `jobs` lists it."""

    job_id: int
    kind: str
    model: str
    nodes: int


class JobList(Answer):
    """GET /api/v1/jobs."""

    jobs: list[JobRow]
    queued: list[QueuedRow]


class ClockAnswer(Answer):
    """The clock state every `clock` action answers with."""

    tick: int
    speed: float
    paused: bool


def check_url(url: str) -> str:
    """`url` without a trailing slash if it is http(s)://HOST[:PORT][/PATH]; else one line."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise TrnmonError(f"--url: expected http://HOST:PORT, got {url!r}")
    return url.rstrip("/")


class Client:
    """One daemon's API, by URL; control requests carry the token from `token_file`."""

    def __init__(self, url: str, token_file: Path | None = None) -> None:
        self.url = check_url(url)
        self.token_file = token_file

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                *, auth: bool = False, expect: type[Answer] | None = None) -> Any:
        """The daemon's JSON answer; with `expect`, checked to have that shape."""
        answer = self._request(method, path, body, auth=auth)
        if expect is not None:
            try:
                expect.model_validate(answer)
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in err["loc"]) or "(answer)"
                raise TrnmonError(f"daemon at {self.url} sent an unexpected answer to "
                                  f"{method} {path} ({where}: {err['msg']}); is it a trnmon "
                                  "daemon of this version?") from None
        return answer

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None,
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
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise TrnmonError(f"daemon at {self.url}: {type(exc).__name__}: {exc}") from None
        except ValueError:
            raise TrnmonError(f"daemon at {self.url} sent a response that is not JSON") from None


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        return str(body.get("error", body))
    except (ValueError, AttributeError):
        return str(exc.reason)
