"""`trnmon bench daemon`: a real daemon under Prometheus-like load, plus start and restore.

* ``daemon.start``: wall time from exec to ``READY=1`` (port bound, first tick done) for a
  fresh fleet, received on a real notify socket.
* ``daemon.restore``: the same after a SIGTERM checkpoint; ``restore_ms`` is the daemon's
  own measurement of reading and restoring the checkpoint.
* ``daemon.scrape``: every node target from ``/sd`` scraped once per ``--interval`` seconds,
  spread evenly over the interval as Prometheus spreads its targets, at most
  ``--concurrency`` requests in flight, for ``--rounds`` intervals after one warm-up round
  (the first scrape of each node builds its label layout: ``first_round_s``).
  ``tick_lag_ms`` is the daemon's worst tick start over the run (its own gauge).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from trnmon.bench.timing import progress

START_TIMEOUT_S = 300.0


class _Daemon:
    """A `trnmon daemon` subprocess on port 0 that reports its URL through READY=1."""

    def __init__(self, preset: str, state_dir: Path, sock_dir: Path) -> None:
        self.preset, self.state_dir = preset, state_dir
        self.sock_path = str(sock_dir / f"notify-{preset}")
        self.log = state_dir.parent / f"daemon-{preset}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> float:
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(self.sock_path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRNMON_")}
        env["NOTIFY_SOCKET"] = self.sock_path
        started = time.perf_counter()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "trnmon", "daemon", "--preset", self.preset,
                 "--listen", "127.0.0.1:0", "--state-dir", str(self.state_dir)],
                stdout=subprocess.DEVNULL, stderr=log, env=env)
        try:
            sock.settimeout(START_TIMEOUT_S)
            while True:
                msg = sock.recv(4096).decode()
                if "READY=1" in msg.split("\n"):
                    break
            ready = time.perf_counter() - started
        finally:
            sock.close()
        m = re.search(r"on (http://\S+)", msg)
        assert m, msg
        self.url = m.group(1)
        return ready

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restore_ms(self) -> float | None:
        found = re.findall(r"restored .* in (\d+) ms", self.log.read_text())
        return float(found[-1]) if found else None


async def _scrape_round(session: aiohttp.ClientSession, urls: list[str], interval: float,
                        concurrency: int, latencies: list[float] | None) -> tuple[int, int]:
    """One interval: request i starts at i * interval / n; returns (ok, errors)."""
    sem = asyncio.Semaphore(concurrency)
    start = time.perf_counter()
    spacing = interval / max(len(urls), 1)
    counts = [0, 0]

    async def one(i: int, url: str) -> None:
        await asyncio.sleep(max(0.0, start + i * spacing - time.perf_counter()))
        async with sem:
            t = time.perf_counter()
            try:
                async with session.get(url) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:
                ok = False
            if latencies is not None:
                latencies.append((time.perf_counter() - t) * 1e3)
            counts[0 if ok else 1] += 1

    await asyncio.gather(*(one(i, u) for i, u in enumerate(urls)))
    await asyncio.sleep(max(0.0, start + interval - time.perf_counter()))
    return counts[0], counts[1]


async def _load(url: str, interval: float, rounds: int, concurrency: int
                ) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=30)
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=conn) as session:
        async with session.get(url + "/sd") as resp:
            groups = await resp.json()
        urls = [url + g["labels"]["__metrics_path__"] for g in groups]
        progress(f"warm-up round over {len(urls)} targets")
        t = time.perf_counter()
        await _scrape_round(session, urls, 0.0, concurrency, None)
        first_round = time.perf_counter() - t
        latencies: list[float] = []
        ok = errors = 0
        t = time.perf_counter()
        for r in range(rounds):
            progress(f"round {r + 1}/{rounds}")
            o, e = await _scrape_round(session, urls, interval, concurrency, latencies)
            ok, errors = ok + o, errors + e
        elapsed = time.perf_counter() - t
        async with session.get(url + "/metrics") as resp:
            text = await resp.text()
    lag = re.search(r"^trnmon_tick_lag_max_seconds (\S+)$", text, re.M)
    skipped = re.search(r"^trnmon_ticks_skipped_total (\S+)$", text, re.M)
    lat = sorted(latencies)
    return {"targets": len(urls), "interval_s": interval, "rounds": rounds,
            "concurrency": concurrency, "requests": ok + errors, "errors": errors,
            "requests_per_s": round((ok + errors) / elapsed, 1),
            "p50_ms": round(statistics.median(lat), 2),
            "p99_ms": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 2),
            "max_ms": round(lat[-1], 2),
            "tick_lag_ms": round(float(lag.group(1)) * 1e3, 1) if lag else None,
            "ticks_skipped": int(float(skipped.group(1))) if skipped else None,
            "first_round_s": round(first_round, 2)}


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    preset = getattr(args, "preset", None) or "ultracluster-40k"
    interval = getattr(args, "interval", None) or 15.0
    rounds = getattr(args, "rounds", None) or 2
    concurrency = getattr(args, "concurrency", None) or 16
    with tempfile.TemporaryDirectory(prefix="trnmon-bench-") as tmp:
        root = Path(tmp)
        # Start and restore on ohio (the targets name ohio).
        d = _Daemon("ohio", root / "ohio", root)
        try:
            progress("ohio: start")
            fresh = d.start()
            time.sleep(1.5)
        finally:
            d.stop()
        yield {"bench": "daemon.start", "preset": "ohio", "ready_s": round(fresh, 3)}
        try:
            progress("ohio: restart from checkpoint")
            again = d.start()
        finally:
            d.stop()
        yield {"bench": "daemon.restore", "preset": "ohio", "ready_s": round(again, 3),
               "restore_ms": d.restore_ms()}

        d = _Daemon(preset, root / "load", root)
        try:
            progress(f"{preset}: start")
            ready = d.start()
            result = asyncio.run(_load(d.url, interval, rounds, concurrency))
        finally:
            d.stop()
        yield {"bench": "daemon.scrape", "preset": preset, **result,
               "ready_s": round(ready, 2)}
