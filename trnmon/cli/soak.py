"""`trnmon soak [--preset P] [--config F] [--seed S] [--days D] [--tick SECONDS] [--json]`:
simulated days as fast as the machine allows (`trnmon/sim/soak.py`), one line per day and
a summary; a progress bar on stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys

from trnmon.cli.args import SubParsers, add_fleet_args, fleet_config
from trnmon.errors import TrnmonError
from trnmon.sim.soak import soak


def _bar(fraction: float) -> None:
    width = 40
    done = int(fraction * width)
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {fraction * 100:5.1f}%")
    if fraction >= 1.0:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _run(args: argparse.Namespace) -> int:
    if args.days < 1:
        raise TrnmonError("trnmon soak: --days must be at least 1")
    if not 0 < args.tick <= 3600:
        raise TrnmonError("trnmon soak: --tick must be in (0, 3600] seconds")
    config = fleet_config(args)
    progress = _bar if sys.stderr.isatty() else None
    for line in soak(config, args.days, args.tick, progress=progress):
        if args.json:
            print(json.dumps(line), flush=True)
        else:
            print("  ".join(f"{k}={v}" for k, v in line.items()), flush=True)
    return 0


def register(sub: SubParsers) -> None:
    p = sub.add_parser("soak", help="run simulated days fast; one JSON line per day")
    add_fleet_args(p)
    p.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    p.add_argument("--tick", type=float, default=60.0, metavar="SECONDS",
                   help="simulated seconds per tick (default 60)")
    p.add_argument("--json", action="store_true", help="JSON lines (the default is k=v)")
    p.set_defaults(handler=_run)
