"""neuron-top's source for a real host: AWS neuron-monitor JSON lines.

    neuron-top --neuron-monitor                 # starts `neuron-monitor`
    neuron-top --neuron-monitor "neuron-monitor -c mon.json"
    neuron-monitor | neuron-top --neuron-monitor -

The host appears as a fleet of one node; malformed lines and `error` strings become
warning events and the count shows in the header, never a crash. When the input ends
the last state stays on screen and the header says why.
"""

from __future__ import annotations

import os
import sys
from typing import IO

from trnmon.api.models import HistorySeries, NodeDetail
from trnmon.neuron_monitor.feed import DEFAULT_COMMAND, STDIN, Ingest, LineFeed
from trnmon.sources.base import FleetSource, SourceStatus


class NeuronMonitorSource(FleetSource):
    def __init__(self, source: str = DEFAULT_COMMAND, *, stdin: IO[bytes] | None = None
                 ) -> None:
        super().__init__()
        self.ingest = Ingest()
        self.feed = LineFeed(source, self._line, self._end, stdin=stdin)

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.feed.start()

    def stop(self) -> None:
        self.feed.stop()

    def _line(self, raw: bytes) -> None:
        self.ingest.line(raw)
        summary = self.ingest.summary
        if summary is not None:
            self._publish(summary)

    def _end(self, reason: str) -> None:
        self.ingest.note(f"neuron-monitor input ended: {reason}")
        if self.ingest.summary is not None:
            with self.ingest.lock:
                self.ingest.summary = self.ingest.summary.model_copy(
                    update={"events": list(self.ingest.host.events)})
            self._publish(self.ingest.summary)
        else:
            for listener in list(self._listeners):
                listener()  # the header shows the reason

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Start, then wait until a piped input has ended, or a command's first report
        (for `neuron-top --once`)."""
        import time

        self.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.feed.ended is None:
            if self.feed.source != STDIN and self.ingest.summary is not None:
                return
            time.sleep(0.02)

    # --- on demand ---------------------------------------------------------------------
    def node_detail(self, node: int | str) -> NodeDetail | None:
        detail = self.ingest.detail
        if detail is None or node not in (0, detail.instance_id):
            return None
        return detail

    def history(self, scope: str) -> HistorySeries | None:
        return self.ingest.series(scope)

    @property
    def status(self) -> SourceStatus:
        host = self.ingest.host
        where = "stdin" if self.feed.source == STDIN else self.feed.source
        bad = f" · {host.malformed_lines} malformed" if host.malformed_lines else ""
        ended = self.feed.ended
        text = f"neuron-monitor {where} · {host.reports} reports{bad}"
        if ended:
            return SourceStatus(connected=False, text=f"{text} · ended ({ended})")
        return SourceStatus(connected=host.reports > 0, text=text)


def detach_stdin_for_tui() -> IO[bytes]:
    """When neuron-monitor's output is piped into neuron-top, move the pipe off fd 0 and
    put the terminal back there, so the TUI still reads the keyboard. Returns the pipe."""
    pipe = os.fdopen(os.dup(0), "rb")
    try:
        tty = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return pipe  # no terminal (a test or a service): leave fd 0 alone
    os.dup2(tty, 0)
    os.close(tty)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - fd 0 lives as long as the process
    return pipe


def source_for_flag(value: str, *, interactive: bool) -> NeuronMonitorSource:
    """`--neuron-monitor [COMMAND]`: "-" reads stdin; with no COMMAND, a piped stdin is
    read, else `neuron-monitor` is started. `interactive` (the TUI will run) moves a
    piped stdin off fd 0 so the keyboard still works."""
    piped = not sys.stdin.isatty()
    if value == STDIN or (value == DEFAULT_COMMAND and piped):
        # A private reader of a copy of fd 0: the interpreter's own sys.stdin stays
        # unlocked at exit while the reader thread may still be blocked in a read.
        stream = detach_stdin_for_tui() if interactive else os.fdopen(os.dup(0), "rb")
        return NeuronMonitorSource(STDIN, stdin=stream)
    return NeuronMonitorSource(value)
