"""`trnmon calibrate [--json]`: the performance rules against published measurements.

One line per covered row of `shared/reference/calibration.md`:
`{"calibrate": ID, "metric": ..., "published": x, "emulated": y, "ratio": y/x,
"source": ...}`, then the rows the rules do not cover (with the reason), then
`{"calibrate": "summary", "rows": n, "within_15pct": k, "median_abs_error": e}`.
`--held-out` adds the other published rows, on which nothing was fitted, and their summary.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from trnmon.cli.args import SubParsers
from trnmon.sim.calibration import (
    NOT_COVERED,
    calibration_results,
    held_out_results,
    summary,
)


def _text(line: dict[str, Any]) -> str:
    if "not_covered" in line:
        return f"{line['calibrate']:<6} not covered: {line['not_covered']}"
    if "rows" in line:
        return (f"{line['calibrate']}: {line['within_15pct']}/{line['rows']} rows within "
                f"15 %, median absolute error {line['median_abs_error']:.1%}")
    return (f"{line['calibrate']:<6} {line['metric']:<13} published {line['published']:<12g}"
            f" emulated {line['emulated']:<12.6g} ratio {line['ratio']:.3f}")


def lines(*, held_out: bool) -> list[dict[str, Any]]:
    """Everything `trnmon calibrate` prints, in order."""
    results = calibration_results()
    out = [r.line() for r in results]
    out += [{"calibrate": rid, "not_covered": why} for rid, why in NOT_COVERED]
    out.append(summary(results))
    if held_out:
        extra = held_out_results()
        out += [r.line() for r in extra]
        out.append(summary(extra, "held_out_summary"))
    return out


def _run(args: argparse.Namespace) -> int:
    for line in lines(held_out=args.held_out):
        print(json.dumps(line) if args.json else _text(line))
    return 0


def register(sub: SubParsers) -> None:
    p = sub.add_parser("calibrate", help="compare the performance rules with AWS's numbers")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--held-out", action="store_true",
                   help="also the published rows nothing was fitted on")
    p.set_defaults(handler=_run)
