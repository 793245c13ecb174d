"""The README's calibration and taxonomy figures are the ones the code produces."""

from __future__ import annotations

from pathlib import Path

from trnmon.sim import perf, taxonomy
from trnmon.sim.calibration import (
    NOT_COVERED,
    calibration_results,
    held_out_results,
    markdown_table,
    summary,
)

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_calibration_table_and_summaries() -> None:
    results = calibration_results()
    assert markdown_table(results) in README
    s = summary(results)
    assert (f"Summary: {s['within_15pct']}/{s['rows']} rows within ±15 %, median absolute "
            f"error\n{s['median_abs_error']:.1%}.") in README
    h = summary(held_out_results(), "held_out_summary")
    assert (f"{h['within_15pct']}/{h['rows']} within ±15 %, median absolute error\n"
            f"{h['median_abs_error']:.1%}.") in README
    for rid, why in NOT_COVERED:
        assert f"- **{rid}**: {why}." in README


def test_coefficients_quoted_in_the_readme() -> None:
    assert (f"{perf.TRAIN_PEAK_EFFICIENCY} · w / (w + {perf.MATMUL_HALF_WIDTH:g})"
            in README)


def test_taxonomy_table() -> None:
    assert taxonomy.markdown_table() in README
