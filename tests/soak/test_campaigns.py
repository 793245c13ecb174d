"""Pretraining campaigns (trnmon/sim/campaigns.py): a run holding a scheduling cell of its
own, with the cell's other UltraServers as its hot spares."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import preset_config
from trnmon.config import FleetConfig
from trnmon.errors import ConfigError
from trnmon.hw.catalog import ULTRASERVER_NODES
from trnmon.sim import Engine
from trnmon.sim.rules import JobState
from trnmon.sim.workloads import JobSpec

CAMPAIGN = {"cell": 0, "ultraservers": 1, "model": "llama3-70b"}


def campaign_config(faults: dict[str, Any] | None = None, **workload: Any) -> FleetConfig:
    """Ohio in cells of 2 racks (cell 0: 2 UltraServers), a 1-UltraServer campaign on cell
    0, busy arrivals and frequent faults elsewhere (unless overridden)."""
    return preset_config("ohio", seed=3, cell_racks=2,
                         faults=faults or {"rate_multiplier": 200.0, "repair_hours": 0.5},
                         workload={"campaigns": [CAMPAIGN], "arrivals_per_hour": 60.0,
                                   "mean_job_hours": 0.5, **workload})


def _cell0_jobs(eng: Engine) -> set[int]:
    hi = eng.cells[0].node_hi
    return {r.job_id for r in eng.jobs.records.values() if r.nodes[0] < hi}


def test_the_campaign_holds_its_cell_alone() -> None:
    eng = Engine(campaign_config())
    campaign = _cell0_jobs(eng)
    assert len(campaign) == 1
    (job_id,) = campaign
    others = 0
    for _ in range(240):
        eng.step(60.0, devices=False)
        # Nothing else is ever placed or queued on the campaign's cell.
        assert _cell0_jobs(eng) <= {job_id}
        assert {p.job_id for p in eng.scheduler.queues[0]} <= {job_id}
        others = max(others, len(eng.jobs.records) - len(_cell0_jobs(eng)))
    assert others > 5  # the rest of the fleet was busy meanwhile
    # A submitted job goes to a shared cell, even one the campaign's cell could hold.
    spec = JobSpec(kind="finetune", model="llama3-8b", nodes=1, instance_family="trn2")
    assert eng.scheduler.pick_cell(spec) != 0


def test_a_crashed_campaign_restarts_at_once_on_its_spares() -> None:
    eng = Engine(campaign_config({"enabled": False}, arrivals_per_hour=0.0))
    (slot,) = [s for s, r in eng.jobs.records.items() if r.nodes[0] < eng.cells[0].node_hi]
    rec = eng.jobs.records[slot]
    first = set(rec.nodes)
    eng.inject("chip_failure", chip=int(eng.topo.node_chip_start[rec.nodes[0]]))
    for _ in range(30):
        eng.step(60.0, devices=False)
    (now,) = [r for r in eng.jobs.records.values() if r.job_id == rec.job_id]
    assert now.restarts == 1
    assert rec.nodes[0] not in now.nodes and set(now.nodes) != first
    assert len(now.nodes) == ULTRASERVER_NODES
    # It waited for nothing but its watchdog and reload: a spare was free.
    assert now.goodput.requeue <= 120.0, now.goodput


def test_the_ultracluster_preset_runs_llama3s_gang_on_its_first_cell() -> None:
    eng = Engine(preset_config("ultracluster-40k", seed=0))
    assert len(eng.cells) == 3
    gang = [r for r in eng.jobs.records.values() if r.nodes[0] < eng.cells[0].node_hi]
    assert len(gang) == 1 and gang[0].spec.nodes * 16 == 16_384
    assert gang[0].spec.model == "llama3.1-405b"
    # 1,024 of the cell's 1,056 nodes run the gang; the other 8 UltraServers are spares.
    c0 = eng.cells[0]
    held = eng.scheduler.node_job[c0.node_lo:c0.node_hi] >= 0
    assert held.sum() == 1024 and (~held).sum() == 32
    assert eng.jobs.state[int(eng.scheduler.node_job[c0.node_lo])] == JobState.RUNNING
    # The shared cells start filled by the job mix.
    for c in eng.cells[1:]:
        assert (eng.scheduler.node_job[c.node_lo:c.node_hi] >= 0).mean() > 0.5


@pytest.mark.parametrize("campaigns,error", [
    ([{"cell": 9}], "workload.campaigns[0].cell: 9 is not a scheduling cell"),
    ([{"cell": 0, "ultraservers": 3}], "3 UltraServers do not fit cell 0, which has 2"),
    ([{"cell": 0, "ultraservers": 1, "model": "gpt-17"}], "unknown model 'gpt-17'"),
])
def test_bad_campaigns_are_one_line_config_errors(campaigns: list[dict[str, Any]],
                                                  error: str) -> None:
    cfg = preset_config("ohio", cell_racks=2, workload={"campaigns": campaigns})
    with pytest.raises(ConfigError) as e:
        Engine(cfg)
    assert error in str(e.value) and "\n" not in str(e.value)


def test_two_campaigns_on_one_cell_are_rejected() -> None:
    with pytest.raises(ConfigError, match="two campaigns hold the same cell"):
        preset_config("ohio", cell_racks=2, workload={"campaigns": [
            {"cell": 1, "ultraservers": 1}, {"cell": 1, "ultraservers": 1}]})
