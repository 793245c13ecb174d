"""Argument helpers shared by every command: the one-line-error parser and fleet flags.

Each command module (`trnmon/cli/<command>.py`) adds its subparser with these, so
`trnmon` and `neuron-top` spell `--preset/--config/--seed/--lnc` and resolve nodes the
same way.
"""

from __future__ import annotations

import argparse
from typing import TypeAlias

from trnmon.config import FleetConfig, load_config
from trnmon.config.presets import PRESETS
from trnmon.errors import TrnmonError
from trnmon.topology import Topology

# What `add_subparsers` returns; each command module registers itself on it.
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class Parser(argparse.ArgumentParser):
    """argparse that reports bad flags as one line with exit code 2 (its default code)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise TrnmonError(f"{self.prog}: {message}")


def add_fleet_args(p: argparse.ArgumentParser) -> None:
    """`--preset`, `--config`, `--seed`, `--lnc`: which emulated fleet to build."""
    p.add_argument("--preset", help=f"named fleet: {', '.join(PRESETS)} (default ohio)")
    p.add_argument("--config", metavar="FILE", help="TOML fleet configuration")
    p.add_argument("--seed", type=int, help="random seed (same seed, same trajectory)")
    p.add_argument("--lnc", type=int, choices=(1, 2), help="logical NeuronCore config on Trn2")


def fleet_config(args: argparse.Namespace) -> FleetConfig:
    """The fleet configuration the fleet flags name (flags > env > TOML > preset)."""
    return load_config(
        preset_name=args.preset,
        config_file=args.config,
        overrides={"seed": args.seed, "lnc": getattr(args, "lnc", None)},
    )


def resolve_node(topo: Topology, key: str | None) -> int:
    """A node index from an instance id or index (`None`: the first node)."""
    if key is None:
        return 0
    try:
        return topo.node_index(key)
    except KeyError:
        raise TrnmonError(
            f"unknown node {key!r}: give an instance id from 'trnmon ls --fleet' "
            f"or a node index below {topo.n_nodes}") from None
