"""`trnmon calibrate`: every covered row of calibration.md within tolerance."""

from __future__ import annotations

import json
import statistics

import pytest

from trnmon.cli import main
from trnmon.sim.calibration import (
    CALIBRATION_ROWS,
    HELD_OUT_ROWS,
    NOT_COVERED,
    TOLERANCE,
    calibration_results,
    held_out_results,
)

REFERENCE_IDS = {"N1", "N3", "F1", "F6", "R2", "R4", "R6", "T1", "T2", "T10", "T15",
                 "N2", "H1", "H3", "H4", "H8", "H11", "K2"}


def test_every_reference_row_is_covered_or_explained() -> None:
    covered = {r.id for r in CALIBRATION_ROWS}
    explained = {rid for rid, _ in NOT_COVERED}
    assert covered | explained == REFERENCE_IDS and not covered & explained


@pytest.mark.parametrize("result", calibration_results(),
                         ids=lambda r: f"{r.id}-{r.metric}")
def test_row_within_tolerance(result: object) -> None:
    r = result
    assert abs(r.ratio - 1.0) <= TOLERANCE, (r.id, r.metric, r.published, r.emulated)  # type: ignore[attr-defined]


def test_median_abs_error_at_most_8_percent() -> None:
    errors = [abs(r.ratio - 1.0) for r in calibration_results()]
    assert len(errors) == 19
    assert statistics.median(errors) <= 0.08


def test_held_out_rows_are_reported_not_fitted() -> None:
    held = held_out_results()
    assert len(held) == 2 * len(HELD_OUT_ROWS)
    # Decode extrapolates well: most held-out inter-token latencies within tolerance.
    itl = [r for r in held if r.metric == "itl_s"]
    assert sum(r.within for r in itl) >= 0.75 * len(itl)


def test_calibrate_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    rows = [x for x in lines if "metric" in x]
    assert set(rows[0]) == {"calibrate", "metric", "published", "emulated", "ratio", "source"}
    for x in rows:
        assert x["ratio"] == pytest.approx(x["emulated"] / x["published"], rel=1e-3)
    assert lines[-1] == {"calibrate": "summary", "rows": 19, "within_15pct": 19,
                         "median_abs_error": lines[-1]["median_abs_error"]}
    assert lines[-1]["median_abs_error"] <= 0.08
    assert {x["calibrate"] for x in lines if "not_covered" in x} == {rid for rid, _ in
                                                                       NOT_COVERED}


def test_calibrate_held_out_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--json", "--held-out"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[-1]["calibrate"] == "held_out_summary"
    assert lines[-1]["rows"] == 2 * len(HELD_OUT_ROWS)
    assert all(x.get("held_out") for x in lines if x["calibrate"].startswith(("Rx", "Fx")))
    assert main(["calibrate"]) == 0
    out = capsys.readouterr().out
    assert "summary: 19/19 rows within 15 %" in out and "N1     itl_s" in out
