"""`trnmon bench tui`: neuron-top refresh cost (summary in -> screen updated) and start time.

Runs a headless Textual app (run_test) on the fleet view at 160×50 for `ohio` and
`ultracluster-40k`. Summaries are produced beforehand so only the UI's work is timed.
tui.key: keypress to composited screen per action (filter, group, sort, open_node, back);
tui.idle: CPU of the default view at a 1 s refresh over `--idle-seconds` (default 30),
fed pre-built summaries so the engine's own CPU is not counted.

Each preset runs in a process of its own, so `rss_mib` (peak RSS) is that preset's: the
engine, its summaries and the app, not what an earlier preset left behind.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from trnmon.bench.timing import progress
from trnmon.config import load_config

PRESETS = ("ohio", "ultracluster-40k")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    if getattr(args, "preset", None):
        yield from run_preset(args, args.preset)
        return
    for preset in PRESETS:
        cmd = [sys.executable, "-m", "trnmon", "bench", "tui", "--json", "--preset", preset,
               "--repeat", str(args.repeat), "--idle-seconds", str(args.idle_seconds)]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
        yield from (json.loads(line) for line in done.stdout.splitlines() if line.strip())


def run_preset(args: argparse.Namespace, preset: str) -> Iterator[dict[str, Any]]:
    """Every tui line for one preset, measured in this process."""
    from trnmon.sources.embedded import EmbeddedSource
    from trnmon.tui import benchmark

    repeat = args.repeat or 20
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
    keys = benchmark.measure_keys(source, repeat=max(3, repeat // 4))
    for action, ms in keys.items():
        median, worst = benchmark.summarize(ms)
        yield {"bench": "tui.key", "preset": preset, "action": action,
               "median_ms": round(median, 2), "max_ms": round(worst, 2),
               "samples": len(ms), "rss_mib": round(_rss_mib(), 1)}
    replay = benchmark.ReplaySource(source, summaries[-5:], period=1.0)
    cpu = benchmark.measure_idle(replay, seconds=args.idle_seconds)
    yield {"bench": "tui.idle", "preset": preset, "cpu_percent": round(cpu, 1),
           "seconds": args.idle_seconds, "interval_s": 1.0,
           "rss_mib": round(_rss_mib(), 1)}
