"""The engine's own thread: ticks on a real-time schedule and publishes immutable snapshots.

HTTP handlers never touch the engine directly. They read `runner.snapshot` (an immutable
FleetSnapshot swapped in by reference each tick) and send control changes through
`runner.control(fn)`, which runs `fn(engine)` between ticks under the engine lock. So a
slow or abandoned client can delay nothing but itself, and no reader sees a half-ticked
fleet. Checkpoints are copied here between ticks and written by a separate writer thread,
so disk latency never delays a tick either. The loop stamps `heartbeat` on every pass; the
systemd watchdog (`trnmon.daemon.watchdog`) pings only while that stamp is fresh *and* the
HTTP event loop runs, so either one stuck gets the service restarted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from trnmon.api.history import HistoryBuffer
from trnmon.config.model import FleetConfig
from trnmon.daemon import persistence
from trnmon.daemon.notify import Notifier
from trnmon.sim import Engine
from trnmon.sim import checkpoint as ck
from trnmon.snapshot import FleetSnapshot

log = logging.getLogger("trnmon.daemon")

T = TypeVar("T")
MAX_CATCH_UP = 64  # ticks run back to back before publishing, at high speed factors
LAG_WINDOW_S = 120.0  # tick_lag_max covers this much recent wall time


class EngineRunner:
    def __init__(self, engine: Engine, history: HistoryBuffer, notifier: Notifier, *,
                 speed: float, checkpoint_path: Path | None,
                 checkpoint_interval_s: float) -> None:
        self.engine = engine
        self.history = history
        self.notifier = notifier
        self.checkpoint_path = checkpoint_path
        self.checkpoint_interval_s = checkpoint_interval_s
        self.lock = threading.Lock()  # the engine's: held for a tick or a control change
        self.history_lock = threading.Lock()
        engine.speed = speed
        self.paused = False
        self.snapshot: FleetSnapshot = FleetSnapshot.capture(engine)
        self.listeners: list[Callable[[FleetSnapshot], None]] = []
        self.first_tick = threading.Event()
        self.started_at = time.monotonic()
        self.last_tick_at = 0.0  # monotonic time of the last tick
        self.heartbeat = time.monotonic()  # last pass of the tick loop, paused or not
        self.tick_lag_s = 0.0
        self._lags: deque[tuple[float, float]] = deque()
        self.ticks_skipped = 0
        self.checkpoints = 0
        self.checkpoint_errors = 0
        self.last_checkpoint_s = 0.0  # seconds the last write took
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trnmon-engine", daemon=True)
        self._writes: queue.Queue[ck.Checkpoint | None] = queue.Queue(maxsize=1)
        self._writer = threading.Thread(target=self._write_loop, name="trnmon-checkpoint",
                                        daemon=True)
        self.crashed: BaseException | None = None
        # Called (from the engine thread) if it dies: the service then exits non-zero.
        self.on_crash: list[Callable[[BaseException], None]] = []

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._writer.start()
        self._thread.start()

    def stop(self, *, final_checkpoint: bool = True) -> bool:
        """Stop ticking, flush the writer, then write one last checkpoint synchronously.
        False if that checkpoint could not be written (logged)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._writer.is_alive():
            self._writes.put(None)
            self._writer.join()
        if final_checkpoint and self.checkpoint_path is not None:
            with self.lock:
                ckpt = self._capture_checkpoint()
            return self._save(ckpt)
        return True

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- the tick loop -----------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            self.crashed = exc
            log.exception("engine thread died: %s: %s", type(exc).__name__, exc)
            for callback in list(self.on_crash):
                callback(exc)

    def _loop(self) -> None:
        next_due = time.monotonic()
        next_checkpoint = time.monotonic() + self.checkpoint_interval_s
        while not self._stop.is_set():
            now = time.monotonic()
            self.heartbeat = now
            if self._wake.is_set():  # a pause, resume or speed change: reschedule from now
                self._wake.clear()
                next_due = min(next_due, now + self._interval())
            if self.paused:
                self._wake.wait(0.5)
                next_due = time.monotonic()
                continue
            if now < next_due:
                self._wake.wait(min(next_due - now, 0.5))
                continue
            interval = self._interval()
            lag = now - next_due
            n = min(MAX_CATCH_UP, 1 + int(lag / interval))
            with self.lock:
                for _ in range(n):
                    self.engine.step()
                snap = FleetSnapshot.capture(self.engine)
            with self.history_lock:
                self.history.record(snap)
            self._publish(snap)
            self.last_tick_at = time.monotonic()
            self._record_lag(lag)
            next_due += n * interval
            behind = time.monotonic() - next_due
            if behind > max(1.0, 4 * interval):
                # Too far behind to catch up without a burst: drop the debt, keep real time.
                self.ticks_skipped += int(behind / interval)
                next_due = time.monotonic()
            self.first_tick.set()
            if self.checkpoint_path is not None and time.monotonic() >= next_checkpoint:
                next_checkpoint = time.monotonic() + self.checkpoint_interval_s
                with self.lock:
                    ckpt = self._capture_checkpoint()
                try:
                    self._writes.put_nowait(ckpt)
                except queue.Full:
                    log.warning("checkpoint writer is behind; skipping this checkpoint")

    def _interval(self) -> float:
        return self.engine.config.tick_seconds / max(self.engine.speed, 1e-9)

    def _record_lag(self, lag: float) -> None:
        now = time.monotonic()
        self.tick_lag_s = lag
        self._lags.append((now, lag))
        while self._lags and self._lags[0][0] < now - LAG_WINDOW_S:
            self._lags.popleft()

    @property
    def tick_lag_max_s(self) -> float:
        return max((lag for _, lag in list(self._lags)), default=0.0)

    def _publish(self, snap: FleetSnapshot) -> None:
        self.snapshot = snap  # one reference swap: readers see the old or the new snapshot
        for listener in list(self.listeners):
            listener(snap)

    # --- control (called from HTTP worker threads) -------------------------------------
    def control(self, fn: Callable[[Engine], T]) -> T:
        """Run fn(engine) between ticks and publish the result at once."""
        with self.lock:
            result = fn(self.engine)
            snap = FleetSnapshot.capture(self.engine)
        self._publish(snap)
        return result

    def pause(self, paused: bool) -> None:
        self.paused = paused
        self._wake.set()

    def set_speed(self, speed: float) -> None:
        self.engine.speed = speed
        self._wake.set()

    def reconfigure(self, config: FleetConfig) -> None:
        """Apply a reloaded configuration's live fields (same fleet shape, checked first)."""
        with self.lock:
            eng = self.engine
            eng.config = config
            eng.scheduler.config = config
            eng.faults.cfg = config.faults
        self.checkpoint_interval_s = config.daemon.checkpoint_interval_s

    # --- checkpoints -------------------------------------------------------------------
    def _capture_checkpoint(self) -> ck.Checkpoint:
        c = ck.capture(self.engine)
        with self.history_lock:
            c.extra = {k: v.copy() for k, v in self.history.arrays().items()}
        return c

    def _write_loop(self) -> None:
        while True:
            item = self._writes.get()
            if item is None:
                return
            self._save(item)

    def _save(self, ckpt: ck.Checkpoint) -> bool:
        assert self.checkpoint_path is not None
        started = time.perf_counter()
        try:
            persistence.save(ckpt, self.checkpoint_path)
        except OSError as exc:
            self.checkpoint_errors += 1
            log.error("checkpoint to %s failed: %s", self.checkpoint_path,
                      exc.strerror or exc)
            return False
        self.last_checkpoint_s = time.perf_counter() - started
        self.checkpoints += 1
        return True
