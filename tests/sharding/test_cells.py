"""Scheduling cells and shards, in process: every shard steps exactly as its slice of the
whole fleet, tick by tick, array by array (faults, jobs, restarts included)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.conftest import preset_config
from trnmon.config import FleetConfig
from trnmon.errors import TrnmonError
from trnmon.sim import Engine
from trnmon.sim import checkpoint as ck
from trnmon.sim.cells import ID_STRIDE, fleet_cells, parse_shard, shard_topology
from trnmon.topology import build_topology

TICKS = 120
DT = 30.0


def busy_config(campaign: bool = False, **kw: Any) -> FleetConfig:
    """Ohio (16 racks) in cells of 2 racks, with faults, arrivals, completions and repairs
    frequent enough that a few minutes of simulated time exercise all of them; with
    `campaign`, a pretraining campaign holds cell 5 (trnmon/sim/campaigns.py)."""
    campaigns = [{"cell": 5, "ultraservers": 1, "model": "llama3-70b"}] if campaign else []
    return preset_config("ohio", seed=11, cell_racks=2,
                         faults={"rate_multiplier": 4000.0, "repair_hours": 0.3,
                                 "correctable_ecc_per_chip_day": 400.0},
                         workload={"arrivals_per_hour": 120.0, "mean_job_hours": 0.3,
                                   "campaigns": campaigns}, **kw)


SLOT_VALUED = {"engine.chip_job", "sched.node_job"}


def _map_slots(values: npt.NDArray[Any], full: Engine, shard: Engine) -> npt.NDArray[Any]:
    """Job-table slot numbers of the full engine as the shard numbers them."""
    off = shard.topo.node_offset
    out = np.where(values == full.jobs.idle_slot, shard.jobs.idle_slot, values - off)
    return np.where(values < 0, values, out)


def assert_slice_equal(full: Engine, shard: Engine) -> int:
    """Every array of `shard`'s SimState equals its slice of `full`'s; returns the arrays
    compared."""
    t = shard.topo
    n0, n1 = t.node_offset, t.node_offset + t.n_nodes
    c0, c1 = t.chip_offset, t.chip_offset + t.n_chips
    compared = 0
    shard_arrays = shard.sim.arrays()
    for key, arr in full.sim.arrays().items():
        mine = shard_arrays[key]
        if arr.shape[:1] == (full.topo.n_chips,):
            want = arr[c0:c1]
        elif arr.shape[:1] == (full.topo.n_nodes,):
            want = arr[n0:n1]
        elif arr.shape[:1] == (full.jobs.capacity + 1,):
            want = np.concatenate([arr[n0:n1], arr[-1:]])
        elif arr.shape[:1] == (len(full.cells),):  # per-cell scheduler state (issue 13)
            k0 = shard.cells[0].index - full.cells[0].index
            want = arr[k0:k0 + len(shard.cells)]
        else:
            want = arr
        if key in SLOT_VALUED:
            want = _map_slots(want, full, shard)
        assert mine.shape == want.shape, key
        np.testing.assert_array_equal(mine, want, err_msg=f"{key} tick {full.tick}")
        compared += 1
    # Jobs, queues and faults: the same ids on the same (re-based) nodes and chips.
    jobs = {r.job_id: ([n - n0 for n in r.nodes], r.restarts, s - n0)
            for s, r in full.jobs.records.items() if n0 <= r.nodes[0] < n1}
    assert {r.job_id: (r.nodes, r.restarts, s) for s, r in shard.jobs.records.items()} == jobs
    cells = {c.index for c in shard.cells}
    queued = [(p.job_id, p.restarts) for p in full.scheduler.queue
              if p.job_id // ID_STRIDE in cells]
    assert [(p.job_id, p.restarts) for p in shard.scheduler.queue] == queued
    faults = {f.fault_id: (f.kind, f.chip - c0 if f.chip >= 0 else -1, f.node - n0, f.port,
                           f.clears_at) for f in full.faults.active.values() if n0 <= f.node < n1}
    assert {f.fault_id: (f.kind, f.chip, f.node, f.port, f.clears_at)
            for f in shard.faults.active.values()} == faults
    return compared


@pytest.mark.slow  # a long run of the whole fleet and of every shard
@pytest.mark.parametrize("count,campaign", [(3, False), (8, False), (3, True)])
def test_shards_step_exactly_as_the_whole_fleet(count: int, campaign: bool) -> None:
    cfg = busy_config(campaign)
    full_topo = build_topology(cfg)
    full = Engine(cfg, topology=full_topo)
    shards = [Engine(cfg, topology=shard_topology(cfg, (i, count), full_topo))
              for i in range(1, count + 1)]
    assert sum(s.topo.n_chips for s in shards) == full.topo.n_chips
    assert [iid for s in shards for iid in s.topo.instance_ids] == list(full.topo.instance_ids)
    # Injected faults reach the shard that owns the chip, on the same chip.
    target = shards[-1]
    chip = target.topo.n_chips // 2
    full.inject("link_degraded", chip=chip + target.topo.chip_offset, port=1)
    target.inject("link_degraded", chip=chip, port=1)
    seen = {"restarts": 0, "faults": 0, "completed": 0}
    for _ in range(TICKS):
        full.step(DT)
        for s in shards:
            s.step(DT)
            assert_slice_equal(full, s)
        seen["restarts"] = max(seen["restarts"], sum(s.scheduler.failed for s in shards))
        seen["faults"] = max(seen["faults"], len(full.faults.active))
    seen["completed"] = full.scheduler.completed
    assert full.scheduler.failed == sum(s.scheduler.failed for s in shards)
    assert full.scheduler.completed == sum(s.scheduler.completed for s in shards)
    # The run exercised what it claims to.
    assert seen["restarts"] >= 1 and seen["faults"] >= 2 and seen["completed"] >= 1, seen


def test_one_cell_keeps_the_historical_trajectory() -> None:
    """cell_racks covering the whole fleet is the default fleet, bit for bit."""
    a = Engine(preset_config("ohio", seed=5))
    b = Engine(preset_config("ohio", seed=5, cell_racks=1000))
    for _ in range(20):
        a.step(30.0)
        b.step(30.0)
    assert ck.capture(a).arrays.keys() == ck.capture(b).arrays.keys()
    for k, v in ck.capture(a).arrays.items():
        np.testing.assert_array_equal(v, ck.capture(b).arrays[k], err_msg=k)


def test_shard_ids_and_labels_are_global() -> None:
    cfg = preset_config("ohio", cell_racks=2)
    full = build_topology(cfg)
    s = shard_topology(cfg, (2, 3), full)
    n0 = s.node_offset
    for n in range(s.n_nodes):
        assert s.instance_id(n) == full.instance_id(n0 + n)
        assert s.location(n) == full.location(n0 + n)
    assert (s.port_peer[s.port_valid] < s.n_chips).all()


@pytest.mark.parametrize("text", ["0/2", "3/2", "x", "1/", "-1/2", "2/0"])
def test_bad_shard_text(text: str) -> None:
    with pytest.raises(TrnmonError, match="--shard"):
        parse_shard(text)


def test_more_shards_than_cells() -> None:
    cfg = preset_config("ohio", cell_racks=4)
    assert fleet_cells(16, 4) == 4
    with pytest.raises(TrnmonError, match="4 scheduling cell"):
        shard_topology(cfg, (1, 5))
    with pytest.raises(TrnmonError, match="cell_racks"):
        shard_topology(preset_config("ohio"), (1, 2))


def test_checkpoint_records_the_shard() -> None:
    cfg = preset_config("ohio", cell_racks=2)
    full = build_topology(cfg)
    a = Engine(cfg, topology=shard_topology(cfg, (1, 2), full))
    a.step()
    saved = ck.loads(ck.dumps(ck.capture(a)))
    b = ck.restore(saved, cfg, topology=shard_topology(cfg, (1, 2), full))
    a.step()
    b.step()
    np.testing.assert_array_equal(a.state.power_w, b.state.power_w)
    with pytest.raises(ck.CheckpointError, match=r"shard 1/2.*shard 2/2"):
        ck.restore(saved, cfg, topology=shard_topology(cfg, (2, 2), full))
    with pytest.raises(ck.CheckpointError, match="whole fleet"):
        ck.restore(saved, cfg)
