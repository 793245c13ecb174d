"""The daemon's lifecycle: startup, the main wait, reload on SIGHUP, drain on SIGTERM/SIGINT.

startup: state directory (locked, stale temp files removed) -> token -> restore (validated,
see checkpoint_schema) or build the fleet -> bind -> every node's label text built ->
first tick -> READY=1 -> watchdog. main: wait for a signal; SIGHUP re-reads the
configuration with the same flags and applies what can change live (an invalid file keeps
the running config and logs one line). shutdown: STOPPING=1, /readyz turns 503, stop
accepting, drain in-flight requests (at most DRAIN_S), stop the tick thread, write the
final checkpoint; exit 0, or 1 if that checkpoint could not be written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import replace

from aiohttp import web

from trnmon.api.history import HistoryBuffer
from trnmon.config.model import FleetConfig
from trnmon.daemon import persistence
from trnmon.daemon import token as tokens
from trnmon.daemon.app import build_app, server_options
from trnmon.daemon.checkpoint_schema import restore_checked
from trnmon.daemon.connections import (
    ConnectionGuard,
    GuardedSite,
    LoopErrors,
    OneLineClientErrors,
    connection_budget,
)
from trnmon.daemon.notify import Notifier
from trnmon.daemon.runner import EngineRunner
from trnmon.daemon.settings import Settings
from trnmon.daemon.state import DaemonState
from trnmon.daemon.watchdog import watchdog_loop
from trnmon.errors import TrnmonError
from trnmon.exporter.render import NodeRenderer
from trnmon.sim import Engine
from trnmon.sim import checkpoint as ck
from trnmon.sim.cells import shard_topology
from trnmon.snapshot import FleetSnapshot
from trnmon.topology import Topology

log = logging.getLogger("trnmon.daemon")

DRAIN_S = 5.0
FIRST_TICK_TIMEOUT_S = 60.0


def restore_or_build(config: FleetConfig, settings: Settings,
                     topology: Topology | None = None) -> tuple[Engine, HistoryBuffer]:
    """The checkpointed fleet (or shard) if there is a usable one, else a fresh one."""
    path = settings.checkpoint_path
    started = time.perf_counter()
    if topology is None and settings.shard is not None:
        topology = shard_topology(config, settings.shard)
    try:
        saved = persistence.load(path)
        engine = restore_checked(saved, config, topology) if saved is not None else None
    except ck.CheckpointError as exc:
        persistence.move_aside(path, str(exc))
        saved, engine = None, None
    if engine is None or saved is None:
        engine = Engine(config, topology=topology)
        return engine, HistoryBuffer(engine.topo, node_window=settings.history_ticks)
    history = HistoryBuffer(engine.topo, node_window=settings.history_ticks)
    try:
        history.restore(saved.extra)
    except (KeyError, ValueError) as exc:
        history = HistoryBuffer(engine.topo, node_window=settings.history_ticks)
        log.warning("history not restored (%s); it starts empty", exc)
    log.info("restored %s at tick %d (simulated t=%.0f s) from %s in %.0f ms",
             config.name, engine.tick, engine.t, path, (time.perf_counter() - started) * 1e3)
    return engine, history

ENGINE_DEATH_GRACE_S = 1.0  # /readyz reports the dead engine this long before exit


# Restart-only settings: a reload that changes them logs "restart to apply".
FIXED_SETTINGS = ("host", "port", "state_dir", "token_file", "history_ticks", "max_body_bytes",
                  "shard", "idle_timeout_s", "max_connections", "max_header_count",
                  "max_field_bytes")


def build_labels(renderer: NodeRenderer, snap: FleetSnapshot) -> None:
    """Build every node's label text now, so scrapes during the first minutes of a large
    fleet do not compete with the tick for it (and READY=1 means ready to scrape)."""
    for node in range(snap.topology.n_nodes):
        renderer.prepare(snap, node)


class Daemon:
    """One `trnmon daemon` process: owns the state directory lock, the engine runner and
    the HTTP server, and maps signals to reload and shutdown."""

    def __init__(self, load: Callable[[], FleetConfig],
                 settings_of: Callable[[FleetConfig], Settings]) -> None:
        self._load = load  # re-run on SIGHUP with the original flags
        self._settings_of = settings_of
        self.config = load()
        self.settings = settings_of(self.config)
        # Built here so a shard the fleet cannot have is a one-line error before any I/O.
        self.topology = (shard_topology(self.config, self.settings.shard)
                         if self.settings.shard is not None else None)
        self.notifier = Notifier()
        self.state: DaemonState | None = None
        self._stop = asyncio.Event()
        self._signals = 0

    async def run(self) -> int:
        s = self.settings
        persistence.ensure_state_dir(s.state_dir)
        lock = persistence.lock_state_dir(s.state_dir)
        persistence.sweep_temp_files(s.checkpoint_path)
        try:
            return await self._serve(tokens.load_or_create(s.token_file))
        finally:
            lock.close()
            self.notifier.close()

    async def _serve(self, token: str) -> int:
        s = self.settings
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(LoopErrors())
        client_errors = OneLineClientErrors()
        logging.getLogger("aiohttp.server").addFilter(client_errors)
        engine, history = restore_or_build(self.config, s, self.topology)
        runner = EngineRunner(engine, history, self.notifier, speed=s.speed,
                              checkpoint_path=s.checkpoint_path,
                              checkpoint_interval_s=s.checkpoint_interval_s)
        limit, nofile = connection_budget(s.max_connections)
        if limit < s.max_connections:
            log.warning("max_connections lowered from %d to %d: the descriptor limit is %d "
                        "(raise LimitNOFILE / ulimit -n)", s.max_connections, limit, nofile)
        state = self.state = DaemonState(runner=runner, settings=s, token=token,
                                         guard=ConnectionGuard(limit))
        self._install_signals(loop, runner)  # before READY=1: a stop right after is honoured
        state.hub.attach(loop)
        state.hub.write_timeout_s = s.write_timeout_s
        runner.listeners.append(state.hub.on_snapshot)
        web_runner = web.AppRunner(build_app(state), shutdown_timeout=DRAIN_S,
                                   access_log=None, handle_signals=False, **server_options(s))
        await web_runner.setup()
        try:
            site = GuardedSite(web_runner, s.host, s.port, state.guard,
                               {**server_options(s), "access_log": None})
            await site.start()
        except OSError as exc:
            await web_runner.cleanup()
            raise TrnmonError(f"cannot listen on {s.host}:{s.port}: "
                              f"{exc.strerror or exc}") from None
        port = web_runner.addresses[0][1]
        url = s.url.rsplit(":", 1)[0] + f":{port}"
        state.url = url  # /sd's target when a request's Host header is unusable
        started = time.perf_counter()
        await loop.run_in_executor(None, build_labels, state.renderer, runner.snapshot)
        log.info("label text for %d nodes built in %.0f ms", engine.topo.n_nodes,
                 (time.perf_counter() - started) * 1e3)
        died: list[BaseException] = []

        def engine_died(exc: BaseException) -> None:
            died.append(exc)
            loop.call_soon_threadsafe(self._stop.set)

        runner.on_crash.append(engine_died)
        runner.start()
        if not await loop.run_in_executor(None, runner.first_tick.wait, FIRST_TICK_TIMEOUT_S):
            raise TrnmonError("the engine did not complete its first tick")
        state.ready = True
        self.notifier.ready(status=f"serving {self.config.name} on {url}")
        watchdog = asyncio.create_task(watchdog_loop(self.notifier, runner))
        what = self.config.name + (f" shard {s.shard[0]}/{s.shard[1]}" if s.shard else "")
        log.info("serving %s (%d nodes, %d chips) on %s; state in %s; at most %d "
                 "connections", what, engine.topo.n_nodes, engine.topo.n_chips, url,
                 s.state_dir, limit)
        await self._stop.wait()
        if died:
            # /readyz already fails (the runner has crashed); let probes see it for a moment,
            # then exit non-zero so systemd restarts us from the last checkpoint (the state
            # in memory may be half-ticked: no final checkpoint).
            log.error("engine thread died (%s: %s); exiting so the service restarts from "
                      "the last checkpoint", type(died[0]).__name__, died[0])
            watchdog.cancel()  # the engine is dead: systemd's watchdog must not be fed
            await asyncio.sleep(ENGINE_DEATH_GRACE_S)
            state.draining = True
            await web_runner.cleanup()
            await loop.run_in_executor(None, lambda: runner.stop(final_checkpoint=False))
            return 1

        log.info("shutting down: draining requests, then checkpointing")
        self.notifier.stopping()
        state.draining = True
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
        await web_runner.cleanup()
        saved = await loop.run_in_executor(None, runner.stop)
        if not saved:
            log.error("stopped at tick %d; the final checkpoint was NOT written (see above): "
                      "a restart resumes from the last periodic one", runner.engine.tick)
            return 1
        log.info("stopped at tick %d; checkpoint %s", runner.engine.tick, s.checkpoint_path)
        return 0

    def _install_signals(self, loop: asyncio.AbstractEventLoop, runner: EngineRunner) -> None:
        def stop() -> None:
            self._signals += 1
            self._stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.reload(runner))

    def reload(self, runner: EngineRunner) -> bool:
        """Apply a re-read configuration's live fields; keep the running one if invalid."""
        self.notifier.reloading()
        try:
            ok = self._reload(runner)
        finally:
            self.notifier.ready()
        return ok

    def _reload(self, runner: EngineRunner) -> bool:
        try:
            new = self._load()
            new_settings = self._settings_of(new)
        except TrnmonError as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
            return False
        if ck.fleet_fingerprint(new) != ck.fleet_fingerprint(self.config):
            log.error("reload failed, keeping the running configuration: the fleet's shape "
                      "(name, region, zones, lnc) changes only with a restart")
            return False
        fixed = [name for name in FIXED_SETTINGS
                 if getattr(new_settings, name) != getattr(self.settings, name)]
        if new.seed != self.config.seed:
            fixed.append("seed")
        runner.reconfigure(new)
        if new_settings.speed != self.settings.speed:
            runner.set_speed(new_settings.speed)
        self.config, self.settings = new, _keep(self.settings, new_settings, fixed)
        if self.state is not None:  # live limits: fault caps, body and write timeouts
            self.state.settings = self.settings
            self.state.hub.write_timeout_s = self.settings.write_timeout_s
        log.info("reloaded configuration%s", f" (restart to apply: {', '.join(fixed)})"
                 if fixed else "")
        return True


def _keep(old: Settings, new: Settings, fixed: list[str]) -> Settings:
    return replace(new, **{k: getattr(old, k) for k in fixed if hasattr(old, k)})
