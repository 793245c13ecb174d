"""The cost meter on a running emulated fleet: every node-second priced exactly once."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import preset_config
from trnmon.hw.catalog import INSTANCE_TYPES
from trnmon.sim import checkpoint as ck
from trnmon.sim.cost import FAMILIES, CapacityState
from trnmon.sim.costmeter import CostMeter
from trnmon.sim.engine import Engine
from trnmon.sim.rules import JobState


def _engine(**overrides: object) -> Engine:
    cfg = preset_config("tiny", seed=7, **overrides)
    return Engine(cfg)


def test_every_node_second_is_priced_once_and_jobs_pay_for_what_they_hold() -> None:
    eng = _engine(pricing={"on_demand": {"trn2u.48xlarge": 40.0, "trn1.32xlarge": 20.0,
                                         "inf2.48xlarge": 10.0}})
    meter = CostMeter(eng.topo, eng.config.pricing, eng.jobs.capacity)
    rate_of = {"trn2u.48xlarge": 40.0, "trn1.32xlarge": 20.0, "inf2.48xlarge": 10.0}
    expect_rate = np.array([rate_of[INSTANCE_TYPES[int(t)].name] for t in eng.topo.node_type])
    np.testing.assert_array_equal(meter.node_rate, expect_rate)
    held_dollars = 0.0
    for _ in range(600):
        eng.step(10.0)
        meter.step(eng.sim, 10.0)
        held_dollars += float(expect_rate[eng.sim.sched.node_job >= 0].sum()) * 10.0 / 3600
    # 6,000 s of every node, split over states, adds up to the fleet's bill.
    assert meter.ledger.total() == pytest.approx(expect_rate.sum() * 6000 / 3600, rel=1e-12)
    assert meter.ledger.node_seconds.sum() == pytest.approx(6000 * eng.topo.n_nodes)
    # Jobs pay their nodes' rates while they hold them (finished ones included).
    live = meter.jobs(eng.sim)
    paid = sum(j.dollars for j in live.values()) + sum(
        j.dollars for j in meter.finished.values())
    assert paid == pytest.approx(held_dollars, rel=1e-9) and paid > 0
    p = int(CapacityState.PRODUCTIVE)
    assert meter.ledger.dollars[FAMILIES.index("trn2"), p] > 0
    assert meter.finished  # some jobs completed or were cancelled in 6,000 s
    for job in [*live.values(), *meter.finished.values()]:
        assert job.tokens >= job.kept_tokens >= 0
        if job.dollars > 0 and job.tokens > 0:
            assert job.tokens_per_dollar == job.tokens / job.dollars


def test_classification_follows_the_state() -> None:
    eng = _engine()
    meter = CostMeter(eng.topo, eng.config.pricing, eng.jobs.capacity)
    eng.step(1.0)
    st, share = meter.classify(eng.sim)
    node_job = eng.sim.sched.node_job
    assert (st[node_job < 0] == CapacityState.UNALLOCATED).all()
    assert set(st[node_job >= 0].tolist()) <= {int(CapacityState.PRODUCTIVE),
                                               int(CapacityState.CHECKPOINT_RESTART)}
    assert ((share >= 0) & (share <= 1)).all()
    node = int(np.flatnonzero(node_job >= 0)[0])
    eng.inject("node_loss", node=node)
    eng.step(1.0)
    st, _ = meter.classify(eng.sim)
    assert st[node] == CapacityState.UNHEALTHY
    burn = meter.burn_rate(eng.sim)
    assert burn.sum() == pytest.approx(meter.node_rate.sum())


def test_a_restarted_job_keeps_its_bill() -> None:
    eng = _engine()
    meter = CostMeter(eng.topo, eng.config.pricing, eng.jobs.capacity)
    for _ in range(30):
        eng.step(10.0)
        meter.step(eng.sim, 10.0)
    rec = next(r for r in eng.sim.jobs.records.values()
               if r.spec.kind in ("pretrain", "finetune"))
    before = meter.jobs(eng.sim)[rec.job_id].dollars
    assert before > 0
    eng.inject("software_crash", node=rec.nodes[0])
    for _ in range(3):
        eng.step(10.0)
        meter.step(eng.sim, 10.0)
    cost = meter.job(eng.sim, rec.job_id)
    assert cost is not None and cost.dollars >= before
    assert rec.job_id in meter.jobs(eng.sim)  # requeued or running again, not finished
    assert rec.job_id not in meter.finished


def test_the_meter_survives_a_checkpoint() -> None:
    eng = _engine()
    for _ in range(50):
        eng.step(10.0)
    restored = ck.restore(ck.capture(eng), eng.config)
    for key, arr in eng.cost.arrays().items():
        np.testing.assert_array_equal(restored.cost.arrays()[key], arr, err_msg=key)
    assert restored.cost.jobs(restored.sim).keys() == eng.cost.jobs(eng.sim).keys()
    for _ in range(20):
        eng.step(10.0)
        restored.step(10.0)
    np.testing.assert_array_equal(restored.cost.ledger.dollars, eng.cost.ledger.dollars)
    a, b = eng.cost.jobs(eng.sim), restored.cost.jobs(restored.sim)
    assert {j: c.dollars for j, c in a.items()} == {j: c.dollars for j, c in b.items()}


def test_a_job_restarted_in_its_own_slot_within_a_tick_keeps_its_tokens() -> None:
    """A crash and the restart that follows in the same tick reuse the job's slot and id
    but restart its token counter: the meter must see a new run, not tokens going
    backwards (this once subtracted every such run's tokens from the fleet). A campaign
    (its own cell, a spare beside it) restarts that way after a chip failure."""
    eng = Engine(preset_config("ohio", seed=3, cell_racks=2, faults={"enabled": False},
                               workload={"arrivals_per_hour": 0.0, "campaigns": [
                                   {"cell": 0, "ultraservers": 1, "model": "llama3-70b"}]}))
    for _ in range(60):
        eng.step(10.0, devices=False)
    slot, rec = next((s, r) for s, r in eng.sim.jobs.records.items()
                     if r.nodes[0] < eng.cells[0].node_hi)
    before = eng.cost.jobs(eng.sim)[rec.job_id].tokens
    family = eng.cost.family_tokens.copy()
    assert before > 0
    eng.inject("chip_failure", chip=int(eng.topo.node_chip_start[rec.nodes[0]]))
    freed = False
    for _ in range(60):
        eng.step(10.0, devices=False)
        assert (eng.cost.family_tokens >= family).all()  # tokens only ever add up
        family = eng.cost.family_tokens.copy()
        freed = freed or bool(eng.sim.jobs.state[slot] == JobState.FREE)
    now = eng.sim.jobs.records[slot]
    # The case under test: back in its own slot, and the slot never seen free between.
    assert now.job_id == rec.job_id and now.restarts == rec.restarts + 1 and not freed
    assert eng.cost.jobs(eng.sim)[rec.job_id].tokens > before
