"""`trnmon config check FILE`: validate a TOML fleet configuration."""

from __future__ import annotations

import argparse

from trnmon.cli.args import Parser, SubParsers
from trnmon.config import FleetConfig, load_config
from trnmon.sim.cost import resolve_rates


def fleet_instance_types(cfg: FleetConfig) -> set[str]:
    """The instance types a fleet configuration has nodes of."""
    out: set[str] = set()
    for az in cfg.availability_zones:
        for count, name in ((az.nodes.ultraservers, "trn2u.48xlarge"),
                            (az.nodes.trn2, "trn2.48xlarge"), (az.nodes.trn1, "trn1.32xlarge"),
                            (az.nodes.inf2, "inf2.48xlarge")):
            if count:
                out.add(name)
    return out


def run_check(args: argparse.Namespace) -> int:
    cfg = load_config(preset_name=args.preset, config_file=args.file)
    # Prices resolve against the catalog (another currency must price every type the
    # fleet has): a one-line ConfigError here, not when the daemon first costs a node.
    resolve_rates(cfg.pricing, only=fleet_instance_types(cfg))
    chips = sum(
        az.nodes.ultraservers * 64 + az.nodes.trn2 * 16 + az.nodes.trn1 * 16 + az.nodes.inf2 * 12
        for az in cfg.availability_zones)
    print(f"{args.file}: ok ({cfg.name}: {len(cfg.availability_zones)} AZ, {chips} chips, "
          f"seed {cfg.seed})")
    return 0


def register(sub: SubParsers) -> None:
    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", required=True, parser_class=Parser)
    c = csub.add_parser("check", help="validate a TOML fleet configuration")
    c.add_argument("file", metavar="FILE")
    c.add_argument("--preset", help="base preset (default: the file's, else ohio)")
    c.set_defaults(handler=run_check)
