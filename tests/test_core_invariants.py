"""Invariants of the execution core over thousands of ticks, and determinism by seed."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from tests.conftest import preset_config
from trnmon.hw.catalog import CHIPS
from trnmon.sim import Engine, FaultKind, Health
from trnmon.sim.rules import JobState
from trnmon.sim.state import ECC_EVENTS
from trnmon.snapshot import FleetSnapshot

COUNTERS = ("energy_j", "ecc", "exec_status", "exec_errors", "link_tx_bytes", "link_errors",
            "efa_tx_bytes", "efa_rx_bytes")


@pytest.mark.slow  # thousands of ticks
def test_invariants_over_thousands_of_ticks() -> None:
    cfg = preset_config("ohio", seed=3, faults={"rate_multiplier": 2000.0},
                        workload={"arrivals_per_hour": 40.0, "mean_job_hours": 1.0})
    eng = Engine(cfg)
    st = eng.state
    topo = eng.topo
    cap = np.array([CHIPS[k].hbm_bytes for k in sorted(CHIPS)])[topo.chip_kind]
    idle_w = np.array([CHIPS[k].idle_watts for k in sorted(CHIPS)])[topo.chip_kind]
    energy = st.energy_j.copy()
    integral = energy.copy()
    prev = {name: getattr(st, name).copy() for name in COUNTERS}
    generation = st.node_generation.copy()
    seen_idle = seen_fail = seen_replaced = 0
    for tick in range(3000):
        dt = 5.0 if tick % 2 else 20.0
        eng.step(dt)
        integral += st.power_w.astype(np.float64) * dt
        assert ((st.core_util >= 0) & (st.core_util <= 1)).all(), tick
        assert ((st.core_engine >= 0) & (st.core_engine <= 1)).all(), tick
        assert ((st.chip_busy >= 0) & (st.chip_busy <= 1)).all(), tick
        assert ((st.hbm_bw_util >= 0) & (st.hbm_bw_util <= 1)).all(), tick
        assert (st.hbm_used >= 0).all() and (st.hbm_used.sum(axis=1) <= cap * (1 + 1e-6)).all()
        # A replaced node is a new instance: its counters start again from zero (a counter
        # reset, as Prometheus sees when a host is swapped); everything else only grows.
        new_node = st.node_generation != generation
        new_chip = new_node[topo.chip_node]
        seen_replaced += int(new_node.sum())
        generation = st.node_generation.copy()
        integral[new_chip] = st.energy_j[new_chip]
        for name in COUNTERS:
            now = getattr(st, name)
            fresh = new_chip if now.shape[0] == topo.n_chips else new_node
            assert (now[~fresh] >= prev[name][~fresh]).all(), (tick, name)
            if not name.startswith("link_"):  # NeuronLink bytes run on: peers read them
                assert (now[fresh] <= prev[name][fresh]).all(), (tick, name)  # restarted
            prev[name] = now.copy()
        # idle, healthy chips draw exactly idle power
        idle = (eng.chip_job == eng.jobs.idle_slot) & (st.health <= Health.DEGRADED) & (
            ~st.throttled)
        assert np.allclose(st.power_w[idle], idle_w[idle], rtol=1e-5)
        seen_idle += int(idle.sum())
        seen_fail += int((st.health >= Health.FAILED).sum())
        # lost nodes draw nothing
        lost = st.health == Health.LOST
        assert (st.power_w[lost] == 0).all()
    assert np.allclose(st.energy_j, integral, rtol=1e-9)
    assert seen_idle > 0 and seen_fail > 0 and seen_replaced > 0
    assert eng.scheduler.completed > 0 and eng.scheduler.failed > 0
    assert st.ecc[:, ECC_EVENTS.index("mem_ecc_corrected")].sum() > 0


def _training_slot(eng: Engine) -> int:
    for slot, rec in eng.jobs.records.items():
        if rec.spec.job_kind.training and eng.jobs.state[slot] == JobState.RUNNING:
            return slot
    raise AssertionError("no running training job")


def _steady(eng: Engine, slot: int, ticks: int = 20) -> float:
    times = []
    for _ in range(ticks):
        eng.step(5.0)
        if eng.jobs.state[slot] == JobState.RUNNING:
            times.append(float(eng.jobs.step_s[slot]))
    return float(np.median(times))


@pytest.mark.parametrize("fault", [FaultKind.LINK_DEGRADED, FaultKind.LINK_DOWN,
                                   FaultKind.THERMAL_THROTTLE])
def test_step_time_rises_under_degraded_link_or_throttle(fault: FaultKind) -> None:
    eng = Engine(preset_config("ultraserver", seed=5, faults={"enabled": False}))
    for _ in range(30):
        eng.step(5.0)
    slot = _training_slot(eng)
    before = _steady(eng, slot)
    chip = int(eng.topo.node_chip_start[eng.jobs.records[slot].nodes[0]])
    eng.inject(fault, chip=chip, port=0)
    if fault == FaultKind.THERMAL_THROTTLE:
        for _ in range(120):  # let it heat up
            eng.step(5.0)
        assert eng.state.throttled[chip]
    after = _steady(eng, slot)
    # comm is mostly overlapped, so a slow link costs a few percent; a throttled clock more
    assert after > before * (1.2 if fault == FaultKind.THERMAL_THROTTLE else 1.02), (
        before, after)


def test_uncorrectable_error_crashes_and_restarts_the_job() -> None:
    eng = Engine(preset_config("tiny", seed=2, faults={"enabled": False}))
    eng.step()
    slot = _training_slot(eng)
    job_id = eng.jobs.records[slot].job_id
    chip = int(eng.topo.node_chip_start[eng.jobs.records[slot].nodes[-1]]) + 3
    f = eng.inject(FaultKind.HBM_ECC_UNCORRECTED, chip=chip)
    assert eng.state.health[chip] == Health.FAILED
    assert job_id not in {r.job_id for r in eng.jobs.records.values()}
    assert eng.scheduler.queue[0].job_id == job_id and eng.scheduler.queue[0].restarts == 1
    eng.clear(f.fault_id)
    eng.step()
    assert job_id in {r.job_id for r in eng.jobs.records.values()}


def test_hang_stalls_then_times_out() -> None:
    eng = Engine(preset_config("tiny", seed=2, faults={"enabled": False}))
    eng.step()
    slot = _training_slot(eng)
    job_id = eng.jobs.records[slot].job_id
    chip = int(eng.topo.node_chip_start[eng.jobs.records[slot].nodes[0]])
    eng.inject(FaultKind.CHIP_HANG, chip=chip)
    eng.step(5.0)
    assert eng.jobs.state[slot] == JobState.STALLED
    done = eng.state.exec_status[chip, 0]
    eng.step(5.0)
    assert eng.state.chip_busy[chip] == 1.0 and eng.state.exec_status[chip, 0] == done
    for _ in range(130):
        eng.step(5.0)
    assert job_id not in {r.job_id for r in eng.jobs.records.values()}


def _snapshot_bytes(seed: int, ticks: int = 200) -> bytes:
    eng = Engine(preset_config("tiny", seed=seed, faults={"rate_multiplier": 500.0}))
    for _ in range(ticks):
        eng.step(10.0)
    snap = FleetSnapshot.capture(eng)
    parts = [getattr(snap.state, f.name).tobytes() for f in fields(snap.state)]
    parts.append(repr([(j.job_id, j.state, j.nodes, j.steps) for j in snap.jobs]).encode())
    return b"".join(parts)


def test_same_seed_same_trajectory() -> None:
    assert _snapshot_bytes(1) == _snapshot_bytes(1)
    assert _snapshot_bytes(1) != _snapshot_bytes(2)


def test_snapshot_is_read_only_and_aggregates() -> None:
    eng = Engine(preset_config("tiny", seed=4))
    eng.step()
    snap = FleetSnapshot.capture(eng)
    with pytest.raises(ValueError):
        snap.state.power_w[0] = 1.0
    eng.step()  # the snapshot does not move with the engine
    assert snap.tick == 1
    total = float(snap.state.power_w.sum())
    for level in ("node", "rack", "row", "datacenter", "az", "fleet"):
        assert snap.aggregate(snap.state.power_w, level).sum() == pytest.approx(total, rel=1e-6)
    assert snap.aggregate(snap.state.power_w, "ultraserver").sum() == pytest.approx(
        float(snap.state.power_w[:64].sum()), rel=1e-6)
    assert snap.aggregate(snap.state.temp_c, "node", "max").shape == (6,)
    assert snap.fleet_totals()["chips"] == 92
    # rx on a port equals what the peer sent back over the same link
    topo = snap.topology
    p = topo.port_peer[0, 3]
    assert snap.link_rx_bytes[0, 3] == snap.state.link_tx_bytes[p, topo.port_peer_port[0, 3]]


def test_clock_speed_factor() -> None:
    eng = Engine(preset_config("tiny", seed=1, tick_seconds=1.0))
    eng.speed = 10.0
    assert eng.run_for(0.25) == 2 and eng.t == 2.0  # 2.5 simulated seconds owed
    assert eng.run_for(0.05) == 1 and eng.t == 3.0  # the half second carried over
