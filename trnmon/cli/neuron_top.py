"""`neuron-top`: the console script. User errors are one line on stderr and exit 2.

Sources are chosen here and nowhere else: the app only sees a FleetSource. `--connect`
is reserved for the daemon source (see `make_source`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from trnmon.api.models import FleetSummary
from trnmon.cli.args import Parser, add_fleet_args, fleet_config
from trnmon.errors import TrnmonError, run_main
from trnmon.sources.base import FleetSource


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="neuron-top",
                description="A live TUI for an emulated Trainium2 fleet, from the whole "
                            "fleet down to one NeuronCore.")
    add_fleet_args(p)
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per wall second (embedded fleet; default 1)")
    p.add_argument("--interval", type=float, default=None,
                   help="screen refresh interval in seconds (default: the saved one, else "
                        "1; +/- change it)")
    p.add_argument("--no-config", action="store_true",
                   help="ignore the saved settings (theme, sort, grouping, heatmap metric, "
                        "interval) and do not save them on exit")
    p.add_argument("--once", action="store_true",
                   help="print the fleet summary as text and exit (for scripts)")
    p.add_argument("--connect", metavar="URL",
                   help="attach to a trnmon daemon, e.g. http://127.0.0.1:9464")
    p.add_argument("--prometheus", metavar="URL",
                   help="the fleet from PromQL against a Prometheus (the global layer of "
                        "sharded daemons), e.g. http://127.0.0.1:9090")
    p.add_argument("--neuron-monitor", nargs="?", const="neuron-monitor", metavar="COMMAND",
                   help="a real host: neuron-monitor JSON lines from stdin ('-', or when "
                        "piped) or from COMMAND (default neuron-monitor)")
    return p


def make_source(args: argparse.Namespace) -> FleetSource:
    """The one place a source is picked: a daemon, or an embedded fleet."""
    if args.neuron_monitor:
        from trnmon.sources.neuron_monitor import source_for_flag

        return source_for_flag(args.neuron_monitor, interactive=not args.once)
    if getattr(args, "prometheus", None):
        from trnmon.sources.prometheus import PrometheusSource

        try:
            return PrometheusSource(args.prometheus, interval=max(args.interval or 1.0, 0.5))
        except ValueError as exc:
            raise TrnmonError(f"--prometheus: {exc}") from None
    if args.connect:
        from trnmon.sources.remote import RemoteSource

        try:
            return RemoteSource(args.connect)
        except ValueError as exc:
            raise TrnmonError(f"--connect: {exc}") from None
    if not args.speed >= 0:
        raise TrnmonError(f"--speed must be >= 0 (got {args.speed})")
    from trnmon.sources.embedded import EmbeddedSource

    return EmbeddedSource(fleet_config(args), speed=args.speed)


ONCE_TIMEOUT_S = 10.0


def wait_for_summary(source: FleetSource, timeout: float) -> FleetSummary | None:
    deadline = time.monotonic() + timeout
    while (summary := source.latest()) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return summary


def run_once(source: FleetSource) -> int:
    from trnmon.sources.embedded import EmbeddedSource
    from trnmon.tui.text import once_text

    summary: FleetSummary | None
    if isinstance(source, EmbeddedSource):
        summary = source.step()
    else:
        source.start()
        summary = wait_for_summary(source, ONCE_TIMEOUT_S)
        source.stop()
    if summary is None:
        raise TrnmonError(f"no fleet summary from {source.status.text}")
    print(once_text(summary))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    def body() -> int:
        args = build_parser().parse_args(argv)
        if args.interval is not None and not args.interval > 0:
            raise TrnmonError(f"--interval must be > 0 (got {args.interval})")
        source = make_source(args)
        if args.once:
            return run_once(source)
        from trnmon.tui.app import NeuronTopApp
        from trnmon.tui.settings import Settings, default_path

        settings = Settings.load(None if args.no_config else default_path())
        NeuronTopApp(source, interval=args.interval, settings=settings).run()
        return 0

    return run_main("neuron-top", body)


if __name__ == "__main__":
    raise SystemExit(main())
