"""Golden expositions of the `tiny` preset (seed 7, 10 ticks): one node of each type.

Label text, HELP/TYPE lines and series order must match exactly; values match to a
relative 1e-6, so tiny float differences between platforms do not fail the test.
Regenerate after an intended change with ``TRNMON_UPDATE_GOLDEN=1`` (see golden/README.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.exporter.fleets import INF2, TRN1, TRN2U
from trnmon.exporter.render import NodeRenderer
from trnmon.snapshot import FleetSnapshot

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TRNMON_UPDATE_GOLDEN") == "1"
NODES = {"tiny-seed7-trn2u": TRN2U, "tiny-seed7-trn1": TRN1, "tiny-seed7-inf2": INF2}


def split(line: str) -> tuple[str, float | None]:
    if line.startswith("#"):
        return line, None
    series, _, value = line.rpartition(" ")
    return series, float(value)


@pytest.mark.parametrize("name", list(NODES))
def test_golden(tiny_snap: FleetSnapshot, name: str) -> None:
    path = GOLDEN / f"{name}.prom"
    text = NodeRenderer().render(tiny_snap, NODES[name])
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with TRNMON_UPDATE_GOLDEN=1"
    want = path.read_text().splitlines()
    got = text.splitlines()
    assert len(got) == len(want), "series count changed (regenerate if intended)"
    for g, w in zip(got, want, strict=True):
        (gs, gv), (ws, wv) = split(g), split(w)
        assert gs == ws
        if wv is not None:
            assert gv == pytest.approx(wv, rel=1e-6, abs=1e-12), gs
