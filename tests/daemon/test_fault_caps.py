"""Injected faults are capped per target (409) and in total (429), and stacking faults on
one chip cannot heat it beyond a physical temperature."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.conftest import preset_config
from trnmon.sim import Engine
from trnmon.sim.faultkinds import FaultKind
from trnmon.sim.faults import COOLING_FAILURE_C

CAPS = {"TRNMON_DAEMON__MAX_ACTIVE_FAULTS": "5", "TRNMON_DAEMON__MAX_FAULTS_PER_TARGET": "2"}


@pytest.mark.slow
def test_fault_caps_answer_4xx_with_a_clear_message(daemon_factory: Any) -> None:
    d = daemon_factory(env=CAPS)
    ids = [g["labels"]["instance"] for g in d.get_json("/sd")]

    def inject(node: int, device: int, kind: str = "hbm_ecc_corrected") -> tuple[int, Any]:
        status, _, body = d.request("POST", "/api/v1/faults", {
            "kind": kind, "instance_id": ids[node], "device": device}, token=True)
        return status, json.loads(body)

    assert inject(0, 0)[0] == 201
    assert inject(0, 0, "thermal_throttle")[0] == 201
    status, body = inject(0, 0)  # a third on the same device
    assert status == 409 and "max_faults_per_target" in body["error"], body
    assert inject(0, 1)[0] == 201
    assert inject(1, 0)[0] == 201
    assert inject(1, 1)[0] == 201
    status, body = inject(2, 0)  # a sixth injected fault anywhere
    assert status == 429 and "max_active_faults" in body["error"], body
    faults = d.get_json("/api/v1/faults")["faults"]
    fid = next(f["fault_id"] for f in faults if f["injected"])
    assert d.request("DELETE", f"/api/v1/faults/{fid}", token=True)[0] == 200
    assert inject(2, 0)[0] == 201  # room again
    status, body = d.request("POST", "/api/v1/faults", {
        "kind": "node_loss", "instance_id": ids[3]}, token=True)[0:3:2]
    assert status == 429  # node faults count towards the total too


def test_stacked_cooling_failures_stay_physical() -> None:
    eng = Engine(preset_config("tiny", seed=3, faults={"enabled": False}))
    ids = [eng.inject(FaultKind.THERMAL_THROTTLE, chip=4).fault_id for _ in range(1000)]
    assert eng.faults.ambient_offset[4] == COOLING_FAILURE_C  # a state, not a sum
    for _ in range(900):
        eng.step()
    hot = float(eng.state.temp_c[4])
    assert hot < 150.0, hot  # 1,000 stacked faults once reached 10,017 C
    for fid in ids[:-1]:
        eng.clear(fid)
    assert eng.faults.ambient_offset[4] == COOLING_FAILURE_C  # one still active
    eng.clear(ids[-1])
    assert eng.faults.ambient_offset[4] == 0.0
    assert np.isfinite(eng.state.temp_c).all()
