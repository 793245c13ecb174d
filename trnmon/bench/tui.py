"""`trnmon bench tui`: neuron-top refresh cost (summary in -> screen updated) and start time.

Runs a headless Textual app (run_test) on the fleet view at 160×50 for `ohio` and
`ultracluster-40k`. Summaries are produced beforehand so only the UI's work is timed.
"""

from __future__ import annotations

import argparse
import resource
from collections.abc import Iterator
from typing import Any

from trnmon.bench.timing import progress
from trnmon.config import load_config

PRESETS = ("ohio", "ultracluster-40k")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from trnmon.sources.embedded import EmbeddedSource
    from trnmon.tui import benchmark

    repeat = args.repeat or 20
    for preset in PRESETS:
        progress(f"tui: {preset}")
        cfg = load_config(preset_name=preset, environ={}, overrides={"seed": 1})
        source = EmbeddedSource(cfg)
        summaries = [source.step() for _ in range(repeat + 2)]
        times = benchmark.measure_refresh(source, summaries)[2:]  # first two: warm-up
        median, worst = benchmark.summarize(times)
        first = benchmark.measure_first_frame(EmbeddedSource(cfg))
        yield {"bench": "tui.refresh", "preset": preset, "chips": summaries[0].totals.chips,
               "median_ms": round(median, 2), "max_ms": round(worst, 2),
               "first_frame_ms": round(first, 1), "rss_mib": round(_rss_mib(), 1)}
