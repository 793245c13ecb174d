"""A trnmon daemon as a neuron-top source: its SSE push stream plus detail on demand.

One thread reads `/api/v1/stream` (server-sent events, one FleetSummary per tick). When
the daemon goes away the thread retries with exponential backoff and the header says so;
the last summary stays on screen, marked stale by the status. Node detail and history are
plain GETs, made on the poller thread, never on the UI thread.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pydantic import ValidationError

from trnmon.api.models import FleetSummary, HistorySeries, NodeDetail
from trnmon.sources.base import FleetSource, SourceStatus

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
READ_TIMEOUT_S = 40.0  # the daemon sends a keepalive every 15 s
REQUEST_TIMEOUT_S = 10.0


class RemoteSource(FleetSource):
    def __init__(self, url: str) -> None:
        super().__init__()
        parsed = urllib.parse.urlparse(url if "://" in url else f"http://{url}")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._retry_at = 0.0
        self._error = ""
        self._response: Any = None
        self.bad_events = 0

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="trnmon-remote",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        resp = self._response
        if resp is not None:
            with contextlib.suppress(OSError):  # unblocks the reader thread
                resp.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- the stream thread --------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._read_stream()
                attempt = 0  # a clean end: the daemon shut down; reconnect soon
                self._error = "stream closed"
            except (OSError, urllib.error.URLError, ValueError) as exc:
                self._error = _reason(exc)
            except AttributeError:
                # http.client, when stop() closed the response under the reader
                if not self._stop.is_set():
                    raise
            self._connected = False
            if self._stop.is_set():
                return
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            attempt += 1
            self._retry_at = time.monotonic() + delay
            self._nudge()  # the header must show the outage even without new data
            self._stop.wait(delay)

    def _read_stream(self) -> None:
        req = urllib.request.Request(self.url + "/api/v1/stream",
                                     headers={"Accept": "text/event-stream"})
        with urllib.request.urlopen(req, timeout=READ_TIMEOUT_S) as resp:
            self._response = resp
            self._connected = True
            self._error = ""
            event, data = "", []
            for raw in resp:
                if self._stop.is_set():
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif not line:
                    if event == "summary" and data:
                        self._deliver("\n".join(data))
                    event, data = "", []
        self._response = None

    def _deliver(self, payload: str) -> None:
        try:
            summary = FleetSummary.model_validate_json(payload)
        except ValidationError:
            self.bad_events += 1
            return
        self._publish(summary)

    def _nudge(self) -> None:
        for listener in list(self._listeners):
            listener()

    # --- on demand -----------------------------------------------------------------------
    def _get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(self.url + path, timeout=REQUEST_TIMEOUT_S) as resp:
                return json.loads(resp.read())
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def node_detail(self, node: int | str) -> NodeDetail | None:
        iid = node
        if isinstance(node, int):
            latest = self.latest()
            if latest is None or not 0 <= node < len(latest.nodes):
                return None
            iid = latest.nodes[node].instance_id
        doc = self._get(f"/api/v1/nodes/{urllib.parse.quote(str(iid))}")
        try:
            return None if doc is None else NodeDetail.model_validate(doc)
        except ValidationError:
            return None

    def history(self, scope: str) -> HistorySeries | None:
        doc = self._get("/api/v1/history?scope=" + urllib.parse.quote(scope, safe=""))
        try:
            return None if doc is None else HistorySeries.model_validate(doc)
        except ValidationError:
            return None

    @property
    def status(self) -> SourceStatus:
        if self._connected:
            return SourceStatus(True, f"daemon {self.url}")
        wait = max(0.0, self._retry_at - time.monotonic())
        why = f": {self._error}" if self._error else ""
        return SourceStatus(False, f"daemon {self.url} unreachable{why} "
                                   f"(reconnecting in {wait:.0f} s)")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        return str(getattr(reason, "strerror", None) or reason)
    return str(getattr(exc, "strerror", None) or exc) or type(exc).__name__
