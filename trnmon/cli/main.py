"""The `trnmon` command: one subparser per command module. User errors are one line, exit 2."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from trnmon.cli import (
    bench,
    calibrate,
    config,
    control,
    daemon,
    dashboards,
    estimate,
    exporter,
    ls,
    metrics,
    monitor,
    soak,
)
from trnmon.cli.args import Parser
from trnmon.errors import run_main

Handler = Callable[[argparse.Namespace], int]

# Order is the order `trnmon --help` lists them in.
COMMANDS = (ls, config, daemon, control, metrics, monitor, exporter, dashboards, estimate,
            calibrate, soak, bench)


def build_parser() -> argparse.ArgumentParser:
    """The whole `trnmon` parser; each subcommand's handler is in `args.handler`."""
    parser = Parser(prog="trnmon", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point of `trnmon`."""
    def body() -> int:
        args = build_parser().parse_args(argv)
        handler: Handler = args.handler
        return handler(args)

    return run_main("trnmon", body)


if __name__ == "__main__":
    raise SystemExit(main())
