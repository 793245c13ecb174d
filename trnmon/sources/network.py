"""What every networked source shares: a URL, one worker thread, reconnect with backoff,
and a header status that says when the far end has gone away.

Subclasses implement `_serve()`: run until the connection ends (return) or fails (raise
OSError/ValueError/KeyError); the loop here reconnects with exponential backoff and keeps
the last summary on screen meanwhile, marked by the status.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
from abc import abstractmethod

from trnmon.sources.base import FleetSource, SourceStatus

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def parse_url(url: str) -> str:
    """Normalize an http(s) base URL (scheme optional); ValueError if it is not one."""
    parsed = urllib.parse.urlparse(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"


def reason(exc: BaseException) -> str:
    """A short, human reason for a failed connection or request."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        r = exc.reason
        return str(getattr(r, "strerror", None) or r)
    return str(getattr(exc, "strerror", None) or exc) or type(exc).__name__


class NetworkSource(FleetSource):
    KIND = "source"  # the header's word for the far end: "daemon", "prometheus"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = parse_url(url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._retry_at = 0.0
        self._error = ""

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"trnmon-{self.KIND}",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._interrupt()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _interrupt(self) -> None:
        """Unblock `_serve()` when it waits on I/O (optional)."""

    @abstractmethod
    def _serve(self) -> None:
        """Talk to the far end until the connection ends or fails."""

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._serve()
                self._error = "connection closed"
            except (OSError, ValueError, KeyError) as exc:
                self._error = reason(exc)
            except AttributeError:
                # http.client, when stop() closed a response under the reader
                if not self._stop.is_set():
                    raise
            if self._connected:
                attempt = 0  # it worked for a while: back off from the start again
            self._connected = False
            if self._stop.is_set():
                return
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            attempt += 1
            self._retry_at = time.monotonic() + delay
            self._nudge()  # the header must show the outage even without new data
            self._stop.wait(delay)

    def _nudge(self) -> None:
        for listener in list(self._listeners):
            listener()

    @property
    def status(self) -> SourceStatus:
        if self._connected:
            return SourceStatus(True, f"{self.KIND} {self.url}")
        wait = max(0.0, self._retry_at - time.monotonic())
        why = f": {self._error}" if self._error else ""
        return SourceStatus(False, f"{self.KIND} {self.url} unreachable{why} "
                                   f"(reconnecting in {wait:.0f} s)")
