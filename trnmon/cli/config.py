"""`trnmon config check FILE`: validate a TOML fleet configuration."""

from __future__ import annotations

import argparse

from trnmon.cli.args import Parser, SubParsers
from trnmon.config import load_config


def run_check(args: argparse.Namespace) -> int:
    cfg = load_config(preset_name=args.preset, config_file=args.file)
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
