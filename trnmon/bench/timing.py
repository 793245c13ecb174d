"""Small timing helpers shared by the benchmark suites."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable


def median_ms(fn: Callable[[], object], *, repeat: int, warmup: int = 2) -> tuple[float, float]:
    """(median, max) wall milliseconds of `fn` over `repeat` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), max(times)


def progress(text: str) -> None:
    """Progress for people: stderr, and only on a terminal, so stdout stays pure JSON."""
    if sys.stderr.isatty():
        print(text, file=sys.stderr, flush=True)
