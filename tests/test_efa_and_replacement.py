"""EFA devices, node replacement and thermal shutdown (issue 14's remaining deliverables).

- A network fault takes one EFA device of its node down: the device's traffic moves to the
  node's other devices, the node's EFA bandwidth (and a multi-node job's collectives) falls
  to the up fraction, and the device comes back when the fault clears.
- A hard failure drains its node; at repair the node comes back as a new instance (new
  deterministic id, fresh counters, an event, `neuron_node_replacements_total`).
- A chip above its catalog `critical_celsius` shuts down: the taxonomy's `thermal` cause.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.conftest import preset_config
from tests.exporter.fleets import INF2, TRN1, TRN2U, tiny_engine
from trnmon.api.views import fleet_summary, node_detail
from trnmon.exporter.render import NodeRenderer, render_self_metrics
from trnmon.hw.catalog import CHIPS, ChipKind, efa_device_name
from trnmon.sim import Engine, FaultKind, checkpoint
from trnmon.sim.faultkinds import replaces_node
from trnmon.sim.rules import Health, LinkState
from trnmon.sim.workloads import JobSpec
from trnmon.snapshot import FleetSnapshot
from trnmon.sources.prometheus import node_detail_from_series


def _two_node_trn1_job() -> tuple[Engine, int]:
    """The ohio fleet, no arrivals and no random faults, one 2-node trn1 pretraining job
    (its data-parallel all-reduce crosses EFA)."""
    cfg = preset_config("ohio", seed=3, faults={"enabled": False},
                        workload={"initial_fill": 0.0, "arrivals_per_hour": 0.0})
    eng = Engine(cfg)
    job_id = eng.submit(JobSpec(kind="pretrain", model="llama3-8b", nodes=2,
                                instance_family="trn1", tp=16, duration_s=1e7))
    for _ in range(200):  # placement, then the 90 s load
        eng.step(1.0)
    slot = next(s for s, r in eng.jobs.records.items() if r.job_id == job_id)
    assert eng.jobs.efa_per_step[slot] > 0, "the job must send over EFA"
    return eng, slot


def _mean_step(eng: Engine, slot: int, ticks: int = 60) -> float:
    steps = []
    for _ in range(ticks):
        eng.step(1.0)
        steps.append(float(eng.jobs.step_s[slot]))
    return float(np.mean(steps))


def test_efa_device_down_moves_its_traffic_and_cuts_the_bandwidth() -> None:
    eng, slot = _two_node_trn1_job()
    node = eng.jobs.records[slot].nodes[0]
    st, n_efa = eng.state, int(eng.topo.node_efa_devices[node])
    assert n_efa == 8
    link_before = float(eng.jobs.link_factor[slot])
    step_before = _mean_step(eng, slot)
    chip = int(eng.topo.node_chip_start[node]) + 5  # trn1: one device per two chips
    f = eng.inject(FaultKind.EFA_DOWN, chip=chip)
    assert f.port == 5 * 8 // 16
    assert st.efa_state[node, f.port] == LinkState.DOWN and st.efa_dev_errors[node, f.port] == 1
    assert eng.kernel.efa_up_fraction[node] == pytest.approx(7 / 8)
    # The fault crashed the job; it restarts on the same nodes (nothing else is free).
    for _ in range(200):
        eng.step(1.0)
    slot = next(s for s, r in eng.jobs.records.items() if node in r.nodes)
    assert link_before == 1.0
    assert float(eng.jobs.link_factor[slot]) == pytest.approx(7 / 8)
    # Exposed communication over EFA slows by 8/7: the mean step (1 % jitter per tick)
    # grows by the EFA share of it.
    assert _mean_step(eng, slot) > step_before * 1.002
    tx0, dev0 = float(st.efa_tx_bytes[node]), st.efa_dev_tx_bytes[node].copy()
    for _ in range(20):
        eng.step(1.0)
    sent = st.efa_dev_tx_bytes[node] - dev0
    assert sent[f.port] == 0  # the downed device carries nothing ...
    up = [i for i in range(n_efa) if i != f.port]
    assert np.allclose(sent[up], sent[up][0]) and sent[up][0] > 0  # ... the others share it
    assert sent.sum() == pytest.approx(float(st.efa_tx_bytes[node]) - tx0)
    assert not sent[n_efa:].any()  # slots past the instance's devices stay empty
    # Exported and shown: the device's up gauge is 0, its name the rdmap device.
    snap = FleetSnapshot.capture(eng)
    text = NodeRenderer().render(snap, node)
    name = efa_device_name(f.port)
    assert f'neuron_efa_device_up{{instance_id="{snap.instance_id(node)}",' \
           f'efa_device="{name}"}} 0\n' in text
    assert text.count("neuron_efa_device_up{") == n_efa
    detail = node_detail(snap, node)
    assert [e.state for e in detail.efa].count("down") == 1 and detail.efa[f.port].name == name
    # Repaired: the device is up again and the job's collectives run at full bandwidth.
    eng.clear(f.fault_id)
    assert st.efa_state[node, f.port] == LinkState.UP
    assert float(eng.jobs.link_factor[slot]) == 1.0


def test_every_efa_device_down_stops_the_nodes_efa_traffic() -> None:
    eng, slot = _two_node_trn1_job()
    node = eng.jobs.records[slot].nodes[0]
    first = int(eng.topo.node_chip_start[node])
    for port in range(8):
        eng.inject(FaultKind.EFA_DOWN, chip=first, port=port)
    assert eng.kernel.efa_up_fraction[node] == 0.0
    tx0 = float(eng.state.efa_tx_bytes[node])
    for _ in range(300):
        eng.step(1.0)
    assert float(eng.state.efa_tx_bytes[node]) == tx0


def test_a_node_without_efa_devices_exports_none() -> None:
    snap = FleetSnapshot.capture(tiny_engine())
    assert int(snap.topology.node_efa_devices[INF2]) == 0
    assert "neuron_efa_device_up{" not in NodeRenderer().render(snap, INF2)
    assert node_detail(snap, INF2).efa == []
    assert len(node_detail(snap, TRN2U).efa) == 16 and len(node_detail(snap, TRN1).efa) == 8


def test_a_hard_fault_drains_the_node_and_replaces_it_with_a_new_instance() -> None:
    eng = tiny_engine()
    node, chip = 1, int(eng.topo.node_chip_start[1]) + 2
    old = eng.instance_id(node)
    eng.state.ecc[chip, 0] = 7.0  # correctable-ECC history of the old host
    f = eng.inject(FaultKind.HBM_ECC_UNCORRECTED, chip=chip, duration_s=600.0)
    assert replaces_node(f)
    for _ in range(130):  # drained: no job lands on it while it waits
        eng.step(5.0)
        assert not eng.scheduler.node_usable[node] or eng.state.node_generation[node] == 1
        if eng.state.node_generation[node] == 0:
            assert (eng.chip_job[eng.topo.node_chips(node)] == eng.jobs.idle_slot).all()
    new = eng.instance_id(node)
    assert eng.state.node_generation[node] == 1 and new != old
    assert new == eng.topo.instance_id(node, 1)  # deterministic: slot and count
    chips = eng.topo.node_chips(node)
    assert (eng.state.health[chips] <= Health.DEGRADED).all()
    assert eng.state.ecc[chip, 0] == 0 and eng.state.ecc[chip, 1] == 0  # a fresh host
    assert f.fault_id not in eng.faults.active
    replaced = [e for e in eng.events if e.kind == "node_replaced"]
    assert len(replaced) == 1 and replaced[0].instance_id == new
    assert old in replaced[0].text and "10 min" in replaced[0].text
    # The new instance takes jobs again, and every view names it by its new id.
    snap = FleetSnapshot.capture(eng)
    assert snap.instance_id(node) == new and snap.instance_ids[node] == new
    assert snap.node_index(new) == node and snap.node_index(old) == node
    assert node_detail(snap, node).instance_id == new
    assert node_detail(snap, node).replacements == 1
    assert f'instance_id="{new}"' in NodeRenderer().render(snap, node)
    # Its UltraServer ring peers name it by its new id too.
    peer = NodeRenderer().render(snap, 0)
    assert f'peer_instance_id="{new}"' in peer and f'peer_instance_id="{old}"' not in peer
    text = render_self_metrics(snap)
    assert 'neuron_node_replacements_total{instance_family="trn2"} 1\n' in text
    assert 'neuron_node_replacements_total{instance_family="trn1"} 0\n' in text


def test_an_injected_node_loss_clears_in_place() -> None:
    eng = tiny_engine()
    old = eng.instance_id(2)
    f = eng.inject(FaultKind.NODE_LOSS, node=2)
    eng.clear(f.fault_id)
    assert eng.instance_id(2) == old and eng.state.node_generation[2] == 0
    assert eng.state.node_up[2]


def _random_run(seed: int) -> Engine:
    cfg = preset_config("tiny", seed=seed, faults={"rate_multiplier": 3000.0,
                                                   "replacement_hours": 0.2})
    eng = Engine(cfg)
    for _ in range(300):
        eng.step(10.0)
    return eng


def test_random_replacements_are_deterministic_by_seed() -> None:
    a, b = _random_run(5), _random_run(5)
    assert a.state.node_generation.sum() > 0, "the run must replace nodes"
    assert np.array_equal(a.state.node_generation, b.state.node_generation)
    assert [e.text for e in a.events if e.kind == "node_replaced"] == [
        e.text for e in b.events if e.kind == "node_replaced"]
    ids = [a.instance_id(n) for n in range(a.topo.n_nodes)]
    assert len(set(ids)) == len(ids)


def test_a_chip_above_its_critical_temperature_shuts_down() -> None:
    eng = tiny_engine()
    chip = int(eng.topo.node_chip_start[TRN1]) + 3
    critical = CHIPS[ChipKind(int(eng.topo.chip_kind[chip]))].critical_celsius
    job_slot = int(eng.chip_job[chip])
    assert job_slot != eng.jobs.idle_slot
    eng.state.temp_c[chip] = critical + 10.0  # a failed thermal interface
    eng.step(1.0)
    faults = [f for f in eng.faults.active.values() if f.chip == chip]
    assert [f.kind for f in faults] == [FaultKind.THERMAL_SHUTDOWN]
    assert faults[0].cause == "thermal" and eng.state.health[chip] == Health.FAILED
    assert eng.scheduler.sched_state.interruptions.get("thermal") == 1
    assert not eng.scheduler.node_usable[TRN1]
    text = [e.text for e in eng.events if e.kind == "job_failed"][-1]
    assert "thermal shutdown" in text
    # Below critical nothing trips, however hot.
    other = chip + 1
    eng.state.temp_c[other] = critical - 0.5
    eng.faults.trip_overheated(eng.t)
    assert not [f for f in eng.faults.active.values() if f.chip == other]


def test_checkpoints_keep_replacements_and_efa_states() -> None:
    eng = tiny_engine()
    eng.inject(FaultKind.EFA_DOWN, chip=3)
    f = eng.inject(FaultKind.CHIP_FAILURE, chip=20, duration_s=5.0)
    for _ in range(10):
        eng.step(1.0)
    assert f.fault_id not in eng.faults.active and eng.state.node_generation[1] == 1
    buf = io.BytesIO()
    checkpoint.write(checkpoint.capture(eng), buf)
    buf.seek(0)
    back = checkpoint.restore(checkpoint.read(buf), eng.config)
    for name in ("node_generation", "efa_state", "efa_dev_tx_bytes", "efa_dev_errors"):
        assert np.array_equal(getattr(back.state, name), getattr(eng.state, name)), name
    assert back.instance_id(1) == eng.instance_id(1)
    assert back.kernel.efa_up_fraction[0] == pytest.approx(15 / 16)
    for e in (eng, back):
        e.step(1.0)
    assert np.array_equal(back.state.efa_dev_tx_bytes, eng.state.efa_dev_tx_bytes)


def test_a_replaced_node_draws_new_correctable_ecc_proneness() -> None:
    eng = tiny_engine()
    # Chip 21 of node 1 is a weak chip: a thousand times the soft rate.
    weights = np.ones(eng.topo.n_chips)
    weights[21] = 1000.0
    eng.faults.ecc_cdf[:] = np.cumsum(weights / weights.sum())
    share = np.diff(eng.faults.ecc_cdf, prepend=0.0)
    eng.inject(FaultKind.CHIP_FAILURE, chip=20, duration_s=1.0)
    eng.step(1.0)
    assert eng.state.node_generation[1] == 1
    new = np.diff(eng.faults.ecc_cdf, prepend=0.0)
    chips = eng.topo.node_chips(1)
    others = np.r_[0:chips.start, chips.stop:eng.topo.n_chips]
    assert eng.faults.ecc_cdf[-1] == pytest.approx(1.0)
    assert new[21] < share[21] / 50  # the weak chip left with its host ...
    # ... and every other chip keeps its proneness relative to the others.
    assert np.allclose(new[others] / new[others].sum(), share[others] / share[others].sum())


def test_neuron_top_over_prometheus_reads_the_efa_devices() -> None:
    """`neuron-top --prometheus`: the node view's EFA devices come from their series."""
    snap = FleetSnapshot.capture(tiny_engine())
    row = next(r for r in fleet_summary(snap).nodes if r.node == TRN1)
    text = NodeRenderer().render(snap, TRN1)
    series = []
    for line in text.splitlines():
        if line.startswith("neuron_efa"):
            name, rest = line.split("{", 1)
            labels, value = rest.rsplit("} ", 1)
            metric = dict(kv.split("=", 1) for kv in labels.split(","))
            metric = {k: v.strip('"') for k, v in metric.items()}
            series.append({"metric": {"__name__": name, **metric}, "value": [0, value]})
    detail = node_detail_from_series(row, series, tick=snap.tick, t=snap.t, jobs=[])
    want = node_detail(snap, TRN1)
    assert [(e.name, e.state, e.tx_bytes) for e in detail.efa] == [
        (e.name, e.state, e.tx_bytes) for e in want.efa]
    assert detail.host.efa_tx_bytes == want.host.efa_tx_bytes
