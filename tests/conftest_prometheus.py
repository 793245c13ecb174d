"""A real Prometheus (Debian's /usr/bin/prometheus) for tests, scraping through HTTP SD.

`prometheus_factory(sd_url)` starts one on a free loopback port with a temporary config
(`http_sd_configs` pointing at `sd_url`, 1 s scrape and refresh intervals) and storage
directory, waits for /-/ready and stops it at the end of the test. Import the fixture into
a conftest to use it; tests are skipped when the binary is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server_process import launch, stop

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


class Prometheus:
    def __init__(self, workdir: Path, sd_url: str, interval: str = "1s",
                 config: dict[str, Any] | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "prometheus.yml"
        # JSON is YAML: no YAML library needed. `config` replaces the default one.
        self.config.write_text(json.dumps(config or {
            "global": {"scrape_interval": interval, "scrape_timeout": interval,
                       "evaluation_interval": interval},
            "scrape_configs": [{"job_name": "trnmon", "http_sd_configs": [
                {"url": sd_url, "refresh_interval": interval}]}],
        }))
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.extra_args: list[str] = []  # more command-line flags (agent mode, receiver)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Prometheus:
        def argv(port: int) -> list[str]:
            return [PROMETHEUS, f"--config.file={self.config}",
                    # An agent (--enable-feature=agent) has a WAL, not a TSDB.
                    (f"--storage.agent.path={self.workdir / 'wal'}"
                     if "--enable-feature=agent" in self.extra_args
                     else f"--storage.tsdb.path={self.workdir / 'data'}"),
                    f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                    *self.extra_args]

        self.port, self.proc = launch("prometheus", argv, self.workdir / "prometheus.log",
                                      timeout)
        return self

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(self, promql: str, ok: Callable[[list[dict[str, Any]]], bool],
                 timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(promql)
            if ok(result):
                return result
            time.sleep(0.5)
        raise AssertionError(f"{promql}: condition not met in {timeout} s; last {result}")

    def stop(self) -> None:
        stop(self.proc)


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[..., Prometheus]]:
    if not Path(PROMETHEUS).exists():
        pytest.skip("prometheus is not installed (Debian package 'prometheus')")
    started: list[Prometheus] = []

    def make(sd_url: str, interval: str = "1s",
             config: dict[str, Any] | None = None) -> Prometheus:
        p = Prometheus(tmp_path / f"prometheus{len(started)}", sd_url, interval, config)
        started.append(p)
        return p.start()

    yield make
    for p in started:
        p.stop()
