"""A real Alertmanager (Debian's prometheus-alertmanager) and a webhook receiver for tests.

`Alertmanager(workdir, config)` writes the config, starts the binary on a free loopback port
with clustering off (the default would bind 0.0.0.0:9094) and waits for /-/ready.
`WebhookReceiver` is a small HTTP server on loopback that records every notification body
with its arrival time: the "person" the alerts must reach.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.server_process import launch, stop
from trnmon.dashboards.yamltext import Value, dump

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"


class Notification:
    """One webhook POST: the receiver path, its arrival (monotonic) and the payload."""

    def __init__(self, path: str, at: float, body: dict[str, Any]) -> None:
        self.path, self.at, self.body = path, at, body

    @property
    def status(self) -> str:
        return str(self.body["status"])

    @property
    def alertname(self) -> str:
        return str(self.body["groupLabels"].get("alertname", ""))

    def alerts(self, status: str | None = None) -> list[dict[str, str]]:
        return [a["labels"] for a in self.body["alerts"]
                if status is None or a["status"] == status]


class WebhookReceiver:
    def __init__(self) -> None:
        self.notifications: list[Notification] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length", "0")), 1 << 20)
                body = json.loads(self.rfile.read(length))
                with owner._lock:
                    owner.notifications.append(Notification(self.path, time.monotonic(), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"

    def snapshot(self) -> list[Notification]:
        with self._lock:
            return list(self.notifications)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Alertmanager:
    def __init__(self, workdir: Path, config: Value) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "alertmanager.yml"
        self.config.write_text(dump(config))
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Alertmanager:
        assert Path(ALERTMANAGER).exists(), "install the Debian package prometheus-alertmanager"

        def argv(port: int) -> list[str]:
            return [ALERTMANAGER, f"--config.file={self.config}",
                    f"--storage.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=", "--log.level=warn"]

        self.port, self.proc = launch("alertmanager", argv, self.workdir / "alertmanager.log",
                                      timeout)
        return self

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """What Prometheus does: POST /api/v2/alerts."""
        req = urllib.request.Request(self.url + "/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     headers={"Content-Type": "application/json"},
                                     method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200

    def stop(self) -> None:
        stop(self.proc)
