"""A trnmon daemon as a neuron-top source: its SSE push stream plus detail on demand.

One thread reads `/api/v1/stream` (server-sent events, one FleetSummary per tick); when
the daemon goes away, NetworkSource reconnects with backoff and the header says so. Node
detail and history are plain GETs, made on the poller thread, never on the UI thread.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pydantic import ValidationError

from trnmon.api.models import FleetSummary, HistorySeries, NodeDetail
from trnmon.sources.network import NetworkSource

READ_TIMEOUT_S = 40.0  # the daemon sends a keepalive every 15 s
REQUEST_TIMEOUT_S = 10.0


class RemoteSource(NetworkSource):
    KIND = "daemon"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._response: Any = None
        self.bad_events = 0

    def _interrupt(self) -> None:
        resp = self._response
        if resp is not None:
            with contextlib.suppress(OSError):  # unblocks the reader thread
                resp.close()

    def _serve(self) -> None:
        """Read the SSE stream: `event: summary` blocks of `data:` lines."""
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
