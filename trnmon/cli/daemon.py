"""`trnmon daemon`: run the fleet as a service (HTTP API, discovery, control, checkpoints)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from trnmon.cli.args import SubParsers, add_fleet_args, fleet_config


def _run(args: argparse.Namespace) -> int:
    from trnmon.config.model import FleetConfig
    from trnmon.daemon.service import Daemon
    from trnmon.daemon.settings import Settings, resolve

    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="trnmon daemon: %(message)s")
    logging.getLogger("aiohttp").setLevel(logging.WARNING)

    def settings_of(cfg: FleetConfig) -> Settings:
        return resolve(cfg, listen=args.listen, state_dir=args.state_dir, speed=args.speed,
                       shard=args.shard)

    daemon = Daemon(lambda: fleet_config(args), settings_of)
    return asyncio.run(daemon.run())


def register(sub: SubParsers) -> None:
    from trnmon.config.daemon import DEFAULT_LISTEN

    p = sub.add_parser("daemon", help="serve the fleet: metrics, discovery, JSON API, control")
    add_fleet_args(p)
    p.add_argument("--listen", metavar="HOST:PORT",
                   help=f"address to serve on (default {DEFAULT_LISTEN}; port 0 picks one)")
    p.add_argument("--state-dir", metavar="DIR",
                   help="checkpoints and token (default $STATE_DIRECTORY, else "
                        "~/.local/state/trnmon)")
    p.add_argument("--speed", type=float, metavar="X",
                   help="simulated seconds per wall second (default 1)")
    p.add_argument("--shard", metavar="I/N",  # or I-N, as in trnmon@I-N.service
                   help="emulate only the I-th (from 1) of N disjoint slices of the fleet's "
                        "scheduling cells (cell_racks from the preset or config; I-N works "
                        "too, for systemd instances); ids, labels and "
                        "trajectory are those of the whole fleet")
    p.set_defaults(handler=_run)

