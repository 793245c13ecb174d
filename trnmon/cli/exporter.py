"""`trnmon exporter --neuron-monitor`: Prometheus /metrics for a real host.

    neuron-monitor | trnmon exporter --neuron-monitor - [--listen 127.0.0.1:8000]
    trnmon exporter --neuron-monitor ["neuron-monitor -c mon.json"]

A drop-in for AWS's `neuron-monitor-prometheus.py` serving trnmon's metric catalog
(AWS's names and labels, plus trnmon's where neuron-monitor has the data), so one set of
dashboards serves real and emulated fleets. Like AWS's script it stops when its input
ends (exit 1 if the neuron-monitor it started failed); SIGTERM or SIGINT stop it cleanly
with exit 0. Errors neuron-monitor reports (a group's or a runtime's `error`) are logged
to stderr once per distinct message. An idle host exports no per-core or per-runtime
series, as AWS's script; `--idle-zeros` exports them as zeros under
`runtime_tag="none"` instead (this lowers fleet averages computed the AWS way). The HTTP
side is the standard library's threading server: one host, one or two
scrapers, no event loop needed beside the blocking line reader, no extra dependency.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from trnmon.cli.args import SubParsers
from trnmon.errors import TrnmonError

DEFAULT_LISTEN = "127.0.0.1:8000"  # AWS's script listens on port 8000
WARN_FIRST = 10  # malformed lines logged one by one, then every 100th
MAX_LOGGED_ERRORS = 1000  # distinct neuron-monitor error messages remembered


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise TrnmonError(f"--listen: expected HOST:PORT, e.g. {DEFAULT_LISTEN}, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


class Exporter:
    """Lines in (reader thread), expositions out (HTTP threads), one lock between."""

    def __init__(self, source: str, *, idle_zeros: bool = False) -> None:
        # Imported when the command runs, not when `trnmon` lists its subcommands.
        from trnmon.neuron_monitor.exposition import HostExposition
        from trnmon.neuron_monitor.feed import Ingest, LineFeed

        self.ingest = Ingest()
        self.exposition = HostExposition(idle_zeros=idle_zeros)
        self.feed = LineFeed(source, self._line, self._end)
        self.done = threading.Event()
        self.stopped_by_signal = False
        self._text: tuple[int, str] = (-1, "")
        self._logged: set[str] = set()

    def _line(self, raw: bytes) -> None:
        self.ingest.line(raw)
        for text in self.ingest.errors:
            if text not in self._logged and len(self._logged) < MAX_LOGGED_ERRORS:
                self._logged.add(text)
                print(f"trnmon exporter: neuron-monitor error (logged once): {text}",
                      file=sys.stderr, flush=True)
        bad = self.ingest.host.malformed_lines
        if bad and (bad <= WARN_FIRST or bad % 100 == 0) and self.ingest.host.events:
            last = self.ingest.host.events[-1]
            if last.kind == "malformed_line":
                print(f"trnmon exporter: {last.text}", file=sys.stderr, flush=True)

    def _end(self, reason: str) -> None:
        print(f"trnmon exporter: neuron-monitor input ended ({reason}); stopping",
              file=sys.stderr, flush=True)
        self.done.set()

    def metrics(self) -> str | None:
        with self.ingest.lock:
            host = self.ingest.host
            if host.reports == 0:
                return None
            if self._text[0] != host.reports:
                self._text = (host.reports, self.exposition.render(host))
            return self._text[1]


def _handler(exporter: Exporter) -> type[BaseHTTPRequestHandler]:
    from trnmon.exporter.render import CONTENT_TYPE

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                text = exporter.metrics()
                if text is None:
                    self._send(503, "no neuron-monitor report yet\n")
                else:
                    self._send(200, text, CONTENT_TYPE)
            elif path == "/":
                self._send(200, '<html><body><a href="/metrics">/metrics</a></body></html>',
                           "text/html")
            else:
                self._send(404, "not found\n")

        def _send(self, status: int, text: str, ctype: str = "text/plain") -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per scrape is noise

    return Handler


def _run(args: argparse.Namespace) -> int:
    if args.neuron_monitor is None:
        raise TrnmonError("exporter: give --neuron-monitor [COMMAND] (a real host); the "
                          "emulated fleet's metrics are served by `trnmon daemon`")
    from trnmon.neuron_monitor.feed import DEFAULT_COMMAND, STDIN

    host, port = parse_listen(args.listen)
    source = args.neuron_monitor
    if source == DEFAULT_COMMAND and not sys.stdin.isatty():
        source = STDIN
    exporter = Exporter(source, idle_zeros=args.idle_zeros)
    try:
        server = ThreadingHTTPServer((host, port), _handler(exporter))
    except OSError as exc:
        raise TrnmonError(f"--listen {args.listen}: cannot listen: {exc.strerror or exc}"
                          ) from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="exporter-http", daemon=True).start()
    def stop(*_: object) -> None:  # systemd stop or ^C: clean up, exit 0
        exporter.stopped_by_signal = True
        exporter.done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        exporter.feed.start()
        print(f"trnmon exporter: serving http://{host}:{server.server_address[1]}/metrics",
              file=sys.stderr, flush=True)
        exporter.done.wait()
    finally:
        exporter.feed.stop()
        server.shutdown()
        server.server_close()
    proc = exporter.feed.proc
    if exporter.stopped_by_signal:
        return 0  # we stopped neuron-monitor ourselves: its exit code is ours to ignore
    return 1 if proc is not None and proc.returncode not in (0, None) else 0


def register(sub: SubParsers) -> None:
    p = sub.add_parser("exporter",
                       help="Prometheus /metrics for a real host from neuron-monitor output")
    p.add_argument("--neuron-monitor", nargs="?", const="neuron-monitor", metavar="COMMAND",
                   help="read neuron-monitor JSON lines from stdin ('-', or when piped) or "
                        "from COMMAND (default neuron-monitor)")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address to serve /metrics on (default {DEFAULT_LISTEN})")
    p.add_argument("--idle-zeros", action="store_true",
                   help="on an idle host, export per-core and per-runtime series as zeros "
                        "under runtime_tag=\"none\" (AWS's script exports none; zeros "
                        "lower fleet averages)")
    p.set_defaults(handler=_run)

