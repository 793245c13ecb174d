"""`trnmon metrics --node ID`: one emulated node's Prometheus exposition on stdout."""

from __future__ import annotations

import argparse
import sys

from trnmon.cli.args import SubParsers, add_fleet_args, fleet_config, resolve_node
from trnmon.errors import TrnmonError


def _run(args: argparse.Namespace) -> int:
    from trnmon.exporter.render import render_node
    from trnmon.sim import Engine
    from trnmon.snapshot import FleetSnapshot

    if args.ticks < 0:
        raise TrnmonError(f"--ticks must be 0 or more, got {args.ticks}")
    eng = Engine(fleet_config(args))
    node = resolve_node(eng.topo, args.node)  # before ticking: a typo fails fast
    for _ in range(args.ticks):
        eng.step()
    sys.stdout.write(render_node(FleetSnapshot.capture(eng), node))
    return 0


def register(sub: SubParsers) -> None:

    p = sub.add_parser("metrics", help="print one node's Prometheus metrics")
    add_fleet_args(p)
    p.add_argument("--node", metavar="ID", help="instance id or node index (default: first)")
    p.add_argument("--ticks", type=int, default=10,
                   help="emulator ticks to run before the snapshot (default 10)")
    p.set_defaults(handler=_run)

