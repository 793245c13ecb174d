"""Small emulated fleets shared by the exporter tests."""

from __future__ import annotations

from trnmon.config import load_config
from trnmon.sim import Engine

TINY_SEED = 7
TINY_TICKS = 10
# tiny preset node order: 4 x trn2u (one UltraServer), then trn1, then inf2.
TRN2U, TRN1, INF2 = 0, 4, 5


def tiny_engine(ticks: int = TINY_TICKS, **overrides: object) -> Engine:
    eng = Engine(load_config(preset_name="tiny", environ={},
                             overrides={"seed": TINY_SEED, **overrides}))
    for _ in range(ticks):
        eng.step()
    return eng
