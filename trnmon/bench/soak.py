"""`trnmon bench soak`: simulated days per wall second of a soak (`trnmon/sim/soak.py`).

One line per preset: `{"bench": "soak", "preset", "sim_days_per_wall_s", ...}` at 60 s
ticks on one core (the engine is single-threaded). Targets (issue 13): ultracluster-40k
>= 0.5, ohio >= 5.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from trnmon.config import load_config
from trnmon.sim.soak import soak

# Long enough that building the engine and loading numba (~0.8 s) are a small part of
# the figure, as in the months-long soaks this measures.
DEFAULT_DAYS = {"ohio": 60, "ultracluster-40k": 5}
TICK_S = 60.0


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    presets = [args.preset] if args.preset else list(DEFAULT_DAYS)
    for name in presets:
        days = args.repeat or DEFAULT_DAYS.get(name, 1)
        config = load_config(preset_name=name, environ={})
        *_, summary = soak(config, days, TICK_S)
        yield {"bench": "soak", "preset": name, "sim_days_per_wall_s":
               summary["sim_days_per_wall_s"], "tick_s": TICK_S, "days": days,
               "wall_s": summary["wall_s"]}
