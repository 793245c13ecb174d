"""Reading neuron-monitor's output: from a stream (stdin) or from a command we start.

`Ingest` is the thread-safe holder both consumers share (neuron-top's source and the
exporter): every line goes through `parse_line` into one `HostState`, and the models are
rebuilt once per report. `LineFeed` owns the reader thread and, if it started one, the
child process (stopped by its own pid on `stop()`).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from typing import IO

from trnmon.api.models import FleetSummary, HistorySeries, NodeDetail
from trnmon.errors import TrnmonError
from trnmon.neuron_monitor.host import HostState
from trnmon.neuron_monitor.parse import MAX_LINE_BYTES, Malformed, parse_line
from trnmon.neuron_monitor.views import HostHistory, fleet_summary, node_detail

DEFAULT_COMMAND = "neuron-monitor"
STDIN = "-"


class Ingest:
    """HostState + history + the latest models, safe to read from any thread."""

    def __init__(self) -> None:
        self.host = HostState()
        self.history = HostHistory()
        self.lock = threading.Lock()
        self.detail: NodeDetail | None = None
        self.summary: FleetSummary | None = None
        self.errors: list[str] = []  # the `error` strings of the latest report

    def line(self, raw: bytes | str) -> bool:
        """Ingest one line; True when it was a report (the models changed)."""
        result = parse_line(raw)
        if result is None:
            return False
        with self.lock:
            if isinstance(result, Malformed):
                self.host.malformed(result.reason)
                if self.detail is not None:
                    self.summary = fleet_summary(self.host, self.detail)
                return False
            self.errors = list(result.errors)
            self.host.add(result)
            self.detail = node_detail(self.host)
            self.history.record(self.detail)
            self.summary = fleet_summary(self.host, self.detail)
            return True

    def note(self, text: str) -> None:
        with self.lock:
            self.host.event("neuron_monitor_stream", "warning", text)

    def series(self, scope: str) -> HistorySeries | None:
        with self.lock:
            return self.history.series(scope, self.host.instance_id)


def command_argv(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise TrnmonError(f"--neuron-monitor: cannot parse command {command!r}: {exc}"
                          ) from None
    if not argv:
        raise TrnmonError("--neuron-monitor: empty command")
    return argv


class LineFeed:
    """Reads lines on a thread and hands each to `on_line`; `on_end(reason)` at EOF."""

    def __init__(self, source: str, on_line: Callable[[bytes], object],
                 on_end: Callable[[str], object], *, stdin: IO[bytes] | None = None) -> None:
        self.source = source  # STDIN or a command line
        self.argv = None if source == STDIN else command_argv(source)
        self._stdin = stdin
        self._on_line, self._on_end = on_line, on_end
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_tail: deque[str] = deque(maxlen=5)
        self.ended: str | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        stream: IO[bytes]
        if self.argv is None:
            stream = self._stdin or os.fdopen(os.dup(0), "rb")
        else:
            try:
                self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            except OSError as exc:
                hint = (" (install aws-neuronx-tools, or pipe its output in: "
                        "neuron-monitor | ... --neuron-monitor -)"
                        if self.argv[0] == DEFAULT_COMMAND else "")
                raise TrnmonError(f"cannot start {self.argv[0]!r}: "
                                  f"{exc.strerror or exc}{hint}") from None
            assert self.proc.stdout is not None and self.proc.stderr is not None
            stream = self.proc.stdout
            threading.Thread(target=self._drain_stderr, args=(self.proc.stderr,),
                             name="neuron-monitor-stderr", daemon=True).start()
        self._thread = threading.Thread(target=self._read, args=(stream,),
                                        name="neuron-monitor-reader", daemon=True)
        self._thread.start()

    def _drain_stderr(self, err: IO[bytes]) -> None:
        for raw in iter(lambda: err.readline(4096), b""):
            self.stderr_tail.append(raw.decode("utf-8", "replace").rstrip())

    def _read(self, stream: IO[bytes]) -> None:
        skipping = False
        try:
            while not self._stopping.is_set():
                raw = stream.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    break
                if skipping:  # the rest of an over-long line
                    skipping = not raw.endswith(b"\n")
                    continue
                if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    skipping = True
                self._on_line(raw)
        except (OSError, ValueError) as exc:
            self._finish(f"reading failed: {exc}")
            return
        self._finish("end of input")

    def _finish(self, reason: str) -> None:
        if self.proc is not None:
            code = self.proc.wait()
            last = f": {self.stderr_tail[-1]}" if self.stderr_tail else ""
            reason = f"{self.argv[0] if self.argv else 'command'} exited with code {code}{last}"
        self.ended = reason
        if not self._stopping.is_set():
            self._on_end(reason)

    def stop(self) -> None:
        self._stopping.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._thread is not None and self.argv is not None:
            self._thread.join(timeout=5)
