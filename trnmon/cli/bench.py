"""`trnmon bench SUITE --json`: run a benchmark suite, one JSON object per line."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from trnmon.cli.args import SubParsers

SUITES = ("core", "exporter", "daemon", "tui", "soak", "cost")


def _run(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"trnmon.bench.{args.suite}")
    lines: Iterator[dict[str, Any]] = module.run(args)
    for line in lines:
        if args.json:
            print(json.dumps(line), flush=True)
        else:
            print("  ".join(f"{k}={v}" for k, v in line.items()), flush=True)
    sys.stdout.flush()
    return 0


def register(sub: SubParsers) -> None:
    p = sub.add_parser("bench", help="benchmarks (JSON lines with --json)")
    p.add_argument("suite", choices=SUITES)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--chips", type=int, action="append", metavar="N",
                   help="fleet sizes in chips (repeatable; suite defaults otherwise)")
    p.add_argument("--repeat", type=int, default=0,
                   help="timed repetitions (0 = suite default); soak: simulated days")
    p.add_argument("--preset",
                   help="daemon: fleet to scrape (default ultracluster-40k); soak: one preset")
    p.add_argument("--interval", type=float, metavar="S",
                   help="daemon: seconds between scrapes of each target (default 15)")
    p.add_argument("--rounds", type=int, help="daemon: measured intervals (default 2)")
    p.add_argument("--concurrency", type=int, help="daemon: requests in flight (default 16)")
    p.add_argument("--idle-seconds", type=float, default=30.0, metavar="S",
                   help="tui: seconds of the idle CPU measurement (default 30)")
    p.set_defaults(handler=_run)

