"""Sample text: integer-valued samples print as integers, other floats as the shortest
text that reads back to the same float64 (issue 15), in trnmon's own exposition too."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tests.exporter.fleets import TRN2U
from trnmon.exporter.render import NodeRenderer
from trnmon.exporter.samples import sample_text, sample_values
from trnmon.snapshot import FleetSnapshot


def test_integers_exact_floats_shortest_and_special_values() -> None:
    assert sample_values([2206249984.0, 0.1, 240.0, -0.0, 1e20, 2.0**70]) == (
        2206249984, 0.1, 240, 0, 100000000000000000000, 2.0**70)
    assert [sample_text(v) for v in (math.nan, math.inf, -math.inf, 1.5e-05)] == [
        "NaN", "+Inf", "-Inf", "1.5e-05"]
    assert sample_text(np.float32(0.1)) == repr(float(np.float32(0.1)))  # reads back exactly


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_reads_back_exactly(x: float) -> None:
    text = sample_text(x)
    assert float(text) == x
    assert text == (str(int(x)) if x.is_integer() and abs(x) < 2.0**63 else repr(x))


def test_trnmon_exposition_prints_byte_counts_exactly(tiny_snap: FleetSnapshot) -> None:
    text = NodeRenderer().render(tiny_snap, TRN2U)
    totals = [ln for ln in text.splitlines() if ln.startswith("neuron_device_hbm_total_bytes{")]
    assert totals and all(ln.endswith(" 103079215104") for ln in totals)
    for ln in text.splitlines():
        if ln and not ln.startswith("#"):
            value = ln.rpartition(" ")[2]
            number = float(value)
            assert value == (str(int(number)) if number.is_integer() else repr(number)), ln
