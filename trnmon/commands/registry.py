"""Subcommands registered by their own modules, so cli.py stays small.

Each registrar adds one subparser and sets ``handler``; heavy imports happen in the handler.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

REGISTRARS: list[Registrar] = []


def load_all() -> list[Registrar]:
    """Import the modules that register subcommands, then return their registrars."""
    from trnmon.commands import (  # noqa: F401
        bench,
        control,
        daemon,
        dashboards,
        exporter,
        metrics,
        monitor,
    )

    return REGISTRARS
