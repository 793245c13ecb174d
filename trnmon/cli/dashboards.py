"""`trnmon dashboards generate [--check]`: write (or verify) dashboards/ from the catalog."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trnmon.cli.args import SubParsers


def _run(args: argparse.Namespace) -> int:
    from trnmon.dashboards import files

    root = Path(args.out)
    if args.check:
        bad = files.stale(root)
        for rel in bad:
            print(f"{root / rel}: differs from the generated file", file=sys.stderr)
        if bad:
            print("run `trnmon dashboards generate` and commit the result", file=sys.stderr)
            return 1
        print(f"{len(files.outputs())} generated files under {root} are up to date")
        return 0
    changed = files.write(root)
    for rel in changed:
        print(root / rel)
    if not changed:
        print(f"{len(files.outputs())} generated files under {root} were already up to date")
    return 0


def register(sub: SubParsers) -> None:
    p = sub.add_parser("dashboards", help="Grafana dashboards and Prometheus rules")
    p.add_argument("action", choices=("generate",))
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if any generated file is stale")
    p.add_argument("--out", default="dashboards", metavar="DIR",
                   help="output directory (default: dashboards)")
    p.set_defaults(handler=_run)

