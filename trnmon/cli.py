"""The `trnmon` command line. Every user error ends as one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from trnmon.config import FleetConfig, load_config
from trnmon.config.presets import PRESETS
from trnmon.errors import TrnmonError, run_main

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad flags as one line with exit code 2 (its default code)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise TrnmonError(f"{self.prog}: {message}")


def add_fleet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help=f"named fleet: {', '.join(PRESETS)} (default ohio)")
    p.add_argument("--config", metavar="FILE", help="TOML fleet configuration")
    p.add_argument("--seed", type=int, help="random seed (same seed, same trajectory)")
    p.add_argument("--lnc", type=int, choices=(1, 2), help="logical NeuronCore config on Trn2")


def fleet_config(args: argparse.Namespace) -> FleetConfig:
    return load_config(
        preset_name=args.preset,
        config_file=args.config,
        overrides={"seed": args.seed, "lnc": getattr(args, "lnc", None)},
    )


def _cmd_ls(args: argparse.Namespace) -> int:
    from trnmon.commands import ls
    from trnmon.topology import build_topology

    config = fleet_config(args)
    topo = build_topology(config)
    if args.fleet:
        ls.write_fleet(topo, sys.stdout, header=ls.fleet_header_wanted())
        return 0
    node = resolve_node(topo, args.node)
    # The node's runtime processes as the fleet starts (what `trnmon monitor` shows).
    from trnmon.api.views import node_detail
    from trnmon.sim import Engine
    from trnmon.snapshot import FleetSnapshot

    snap = FleetSnapshot.capture(Engine(config, topology=topo))
    print(ls.run(args, topo, node, node_detail(snap, node).processes))
    return 0


def resolve_node(topo: object, key: str | None) -> int:
    from trnmon.topology import Topology

    assert isinstance(topo, Topology)
    if key is None:
        return 0
    try:
        return topo.node_index(key)
    except KeyError:
        raise TrnmonError(
            f"unknown node {key!r}: give an instance id from 'trnmon ls --fleet' "
            f"or a node index below {topo.n_nodes}") from None


def _cmd_config_check(args: argparse.Namespace) -> int:
    cfg = load_config(preset_name=args.preset, config_file=args.file)
    chips = sum(
        az.nodes.ultraservers * 64 + az.nodes.trn2 * 16 + az.nodes.trn1 * 16 + az.nodes.inf2 * 12
        for az in cfg.availability_zones)
    print(f"{args.file}: ok ({cfg.name}: {len(cfg.availability_zones)} AZ, {chips} chips, "
          f"seed {cfg.seed})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="trnmon", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("ls", help="neuron-ls for an emulated node, or list the fleet")
    add_fleet_args(p)
    p.add_argument("--node", metavar="ID", help="instance id or node index (default: first)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("-t", "--topology", action="store_true", help="draw the NeuronLink grid")
    mode.add_argument("-j", "--json-output", "--json", dest="json", action="store_true",
                      help="neuron-ls -j JSON")
    mode.add_argument("--fleet", action="store_true", help="one line per node")
    p.add_argument("-w", "--wide", action="store_true",
                   help="neuron-ls --wide: PID, COMMAND, RUNTIME VERSION columns")
    p.add_argument("-a", "--show-all-procs", action="store_true",
                   help="every process on each device, not only Neuron runtimes")
    p.set_defaults(handler=_cmd_ls)

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", required=True, parser_class=_Parser)
    c = csub.add_parser("check", help="validate a TOML fleet configuration")
    c.add_argument("file", metavar="FILE")
    c.add_argument("--preset", help="base preset (default: the file's, else ohio)")
    c.set_defaults(handler=_cmd_config_check)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[argparse._SubParsersAction], None]]:  # type: ignore[type-arg]
    """Subcommands that live next to their own code (imported lazily when run)."""
    from trnmon.commands import registry

    return registry.load_all()


def main(argv: Sequence[str] | None = None) -> int:
    def body() -> int:
        args = build_parser().parse_args(argv)
        handler: Handler = args.handler
        return handler(args)

    return run_main("trnmon", body)


if __name__ == "__main__":
    raise SystemExit(main())
