"""`trnmon monitor`: AWS neuron-monitor's JSON lines for one emulated node.

    trnmon monitor [--node ID] [--config neuron-monitor.json] [--count N] [--speed X]
                   [--preset NAME | --config-fleet FILE] [--seed N] [--lnc 1|2]
    trnmon monitor --connect http://127.0.0.1:9400 [--node ID] ...

`--config` is neuron-monitor's own configuration (like `neuron-monitor -c`); the fleet's
TOML configuration is `--config-fleet`. Embedded, the engine runs `--speed` simulated
seconds per wall second (default 1, real time), so tests need not wait 5 s a line.
"""

from __future__ import annotations

import argparse
import sys

from trnmon.cli.args import SubParsers, fleet_config, resolve_node
from trnmon.errors import TrnmonError


def _run(args: argparse.Namespace) -> int:
    from trnmon.neuron_monitor.config import load_monitor_config
    from trnmon.neuron_monitor.emulated import DaemonFeed, EngineFeed, Feed, run
    from trnmon.neuron_monitor.report import ReportBuilder

    if args.count is not None and args.count < 1:
        raise TrnmonError(f"--count must be 1 or more, got {args.count}")
    if not (args.speed > 0 and args.speed < float("inf")):
        raise TrnmonError(f"--speed must be a positive number, got {args.speed}")
    config = load_monitor_config(args.config)
    feed: Feed
    if args.connect:
        if args.config_fleet or args.preset or args.seed is not None or args.lnc:
            raise TrnmonError("--connect reads the daemon's fleet: drop --preset, "
                              "--config-fleet, --seed and --lnc")
        feed = DaemonFeed(args.connect, args.node)
        wall_per_sim = 1.0  # the daemon keeps its own clock: poll every period
    else:
        from trnmon.sim import Engine

        fleet_args = argparse.Namespace(preset=args.preset, config=args.config_fleet,
                                        seed=args.seed, lnc=args.lnc)
        engine = Engine(fleet_config(fleet_args))
        feed = EngineFeed(engine, resolve_node(engine.topo, args.node))
        wall_per_sim = 1.0 / args.speed
    builder = ReportBuilder(config, feed.identity)
    run(feed, builder, sys.stdout, count=args.count, interval=config.periods()[0],
        wall_per_sim=wall_per_sim)
    return 0


def register(sub: SubParsers) -> None:
    from trnmon.config.presets import PRESETS

    p = sub.add_parser("monitor", help="neuron-monitor JSON lines for an emulated node")
    p.add_argument("--node", metavar="ID", help="instance id or node index (default: first)")
    p.add_argument("--config", metavar="FILE",
                   help="neuron-monitor configuration JSON (periods, runtimes, groups)")
    p.add_argument("--count", type=int, metavar="N", help="stop after N lines")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per wall second (embedded; default 1)")
    p.add_argument("--connect", metavar="URL", help="read the node from a trnmon daemon")
    p.add_argument("--preset", help=f"named fleet: {', '.join(PRESETS)} (default ohio)")
    p.add_argument("--config-fleet", metavar="FILE", help="TOML fleet configuration")
    p.add_argument("--seed", type=int, help="random seed (same seed, same trajectory)")
    p.add_argument("--lnc", type=int, choices=(1, 2), help="logical NeuronCore config on Trn2")
    p.set_defaults(handler=_run)

