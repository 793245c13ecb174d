"""Lost work by cause: accrued where a crash throws work away, checkpointed, priced, exported;
and the cost meter's incremental tick equals the from-scratch classification bit for bit."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.conftest import preset_config
from trnmon.exporter.catalog import BY_NAME
from trnmon.exporter.render import render_self_metrics
from trnmon.sim import checkpoint as ck
from trnmon.sim.cost import CapacityLedger
from trnmon.sim.costmeter import CostMeter
from trnmon.sim.engine import Engine
from trnmon.sim.jobmix import FAMILIES
from trnmon.sim.rules import HANG_WATCHDOG_S, LOAD_S, JobState
from trnmon.sim.taxonomy import CAUSE_NAMES
from trnmon.snapshot import FleetSnapshot

PRICES = {"on_demand": {"trn2u.48xlarge": 48.0, "trn1.32xlarge": 16.0, "inf2.48xlarge": 12.0}}


def _running_training(eng: Engine) -> int:
    jobs = eng.sim.jobs
    for slot, rec in sorted(jobs.records.items()):
        if (rec.spec.job_kind.training and jobs.state[slot] == JobState.RUNNING
                and jobs.since_checkpoint[slot] > 0):
            return slot
    raise AssertionError("no running training job")


def _quiet_fleet(**overrides: object) -> Engine:
    """tiny after 400 s, no random faults and no arrivals (a crashed job's nodes stay
    free for its restart)."""
    eng = Engine(preset_config("tiny", seed=7, faults={"enabled": False},
                               workload={"arrivals_per_hour": 0}, **overrides))
    for _ in range(40):
        eng.step(10.0)
    return eng


def test_a_crash_loses_the_work_since_the_checkpoint_and_the_reload_under_its_cause() -> None:
    eng = _quiet_fleet(pricing=PRICES)
    slot = _running_training(eng)
    jobs, lost = eng.sim.jobs, eng.sim.sched.lost
    rec = jobs.records[slot]
    fam, chips = FAMILIES.index(rec.spec.instance_family), float(jobs.chips[slot])
    # Work since the checkpoint, as far as this run did it (goodput's rule).
    since = min(float(jobs.since_checkpoint[slot]), float(jobs.gp_productive[slot]))
    assert lost.sum() == 0 and since > 0
    eng.inject("software_crash", node=rec.nodes[0])
    cause = CAUSE_NAMES.index("software")
    # Nothing stalled, so the crash's loss is exactly the work since the checkpoint.
    assert lost[:, fam, cause].sum() == pytest.approx(since * chips, rel=1e-12)
    assert lost.sum() == lost[:, fam, cause].sum()
    # The restart reloads for ~LOAD_S: that is lost under the same cause too.
    def placed() -> int | None:
        return next((s for s, r in jobs.records.items() if r.job_id == rec.job_id), None)

    for _ in range(100):
        eng.step(10.0)
        restarted = placed()
        if restarted is not None and jobs.state[restarted] != JobState.LOADING:
            break
    assert restarted is not None
    assert jobs.records[restarted].restart_cause == "software"
    # As goodput counts it (the tick the timer runs out in counts as running).
    reload_s = float(jobs.gp_loading[restarted])
    assert LOAD_S - 10.0 <= reload_s <= LOAD_S
    assert lost[:, fam, cause].sum() == pytest.approx((since + reload_s) * chips, rel=1e-12)
    # Priced at the family's per-chip rate; exported per family and cause.
    meter = eng.cost
    rate = meter.family_chip_rate[fam]
    assert meter.lost_dollars[fam, cause] == pytest.approx(
        (since + reload_s) * chips * rate / 3600, rel=1e-12)
    text = render_self_metrics(FleetSnapshot.capture(eng))
    for name in ("neuron_fleet_lost_chip_seconds_total", "neuron_fleet_lost_cost_dollars_total"):
        series = re.findall(rf"^{name}{{instance_family=\"(\w+)\",cause=\"(\w+)\"}} (\S+)$",
                            text, re.M)
        assert [(f, c) for f, c, _ in series] == [(f, c) for f in FAMILIES
                                                    for c in CAUSE_NAMES]
        value = dict(((f, c), float(v)) for f, c, v in series)[(rec.spec.instance_family,
                                                                 "software")]
        want = lost[:, fam, cause].sum() if "chip" in name else meter.lost_dollars[fam, cause]
        assert value == want


def test_stall_time_goes_to_the_hang_s_cause() -> None:
    eng = _quiet_fleet()
    slot = _running_training(eng)
    jobs, lost = eng.sim.jobs, eng.sim.sched.lost
    rec = jobs.records[slot]
    eng.inject("collective_timeout", node=rec.nodes[0])
    while rec.job_id in {r.job_id for r in jobs.records.values()} and (
            eng.sim.sched.failed == 0):
        eng.step(10.0)
    fam, cause = FAMILIES.index(rec.spec.instance_family), CAUSE_NAMES.index(
        "collective_timeout")
    # At least the watchdog's wait, on every chip of the job.
    assert lost[:, fam, cause].sum() >= (HANG_WATCHDOG_S - 10.0) * rec.chips > 0
    assert lost.sum() == lost[:, fam, cause].sum()


def test_lost_work_survives_a_checkpoint() -> None:
    eng = Engine(preset_config("tiny", seed=3, faults={"rate_multiplier": 3000.0}))
    for _ in range(300):
        eng.step(60.0)
    assert eng.sim.sched.lost.sum() > 0
    restored = ck.restore(ck.capture(eng), eng.config)
    np.testing.assert_array_equal(restored.sim.sched.lost, eng.sim.sched.lost)
    np.testing.assert_array_equal(restored.cost.lost_dollars, eng.cost.lost_dollars)
    for _ in range(100):
        eng.step(60.0)
        restored.step(60.0)
    np.testing.assert_array_equal(restored.sim.sched.lost, eng.sim.sched.lost)
    np.testing.assert_array_equal(restored.cost.lost_dollars, eng.cost.lost_dollars)


@pytest.mark.parametrize("fused", [True, False], ids=["numba", "numpy"])
def test_the_incremental_meter_is_bit_identical_to_classifying_from_scratch(
        fused: bool) -> None:
    """The meter recomputes the allocation only when the job table's version moves (and
    with numba runs the tick as one compiled loop); every tick it must still equal
    `CapacityLedger.accrue` on `classify` (the plain per-node definition) exactly, and the
    jobs' amounts the plain per-slot arithmetic, through placements, crashes, repairs and a
    repricing."""
    eng = Engine(preset_config("tiny", seed=3, faults={"rate_multiplier": 3000.0},
                               pricing=PRICES))
    meter = CostMeter(eng.topo, eng.config.pricing, eng.jobs.capacity)
    meter.fuse_at = 0 if fused else None
    if fused:
        meter.step(eng.sim, 0.0)  # loads the kernel; a zero-length tick adds nothing
        assert meter.kernel is not None, "numba is a dependency"
    ref = CapacityLedger(meter.ledger.families)
    slot_dollars = np.zeros_like(meter.slot_dollars)
    family_tokens = np.zeros_like(meter.family_tokens)
    prev_runs: dict[int, tuple[int, float]] = {}
    restarts_in_place = 0
    for i in range(600):
        dt = 60.0 if i % 7 else 10.0
        eng.step(dt)
        if i == 300:  # a configuration reload: the slot prices follow
            cfg = preset_config("tiny", seed=3, pricing={"discount": 0.25})
            meter.reprice(eng.topo, cfg.pricing)
        st, share = meter.classify(eng.sim)
        ref.accrue(meter.node_family, meter.node_rate, st, share, dt)
        seen = meter._seen.copy()
        meter.step(eng.sim, dt)
        # The jobs' part, as the meter did it before it cached anything. A slot starts a
        # new run when its job or the run's start changed (a crash and a restart in the
        # same slot within one tick keep the job id but restart its token counter).
        live = meter.owner >= 0
        runs = {slot: (rec.job_id, rec.started_at) for slot, rec in eng.sim.jobs.records.items()}
        moved = np.zeros_like(live)
        for slot in set(runs) | set(prev_runs):
            moved[slot] = runs.get(slot) != prev_runs.get(slot)
        restarts_in_place += sum(1 for slot, (job, t0) in runs.items()
                                 if slot in prev_runs and prev_runs[slot][0] == job
                                 and prev_runs[slot][1] != t0)
        prev_runs = runs
        slot_dollars[moved] = 0.0
        seen[moved] = 0.0
        slot_dollars += np.where(live, meter.slot_per_hour * (dt / 3600.0), 0.0)
        delta = np.where(live, eng.sim.jobs.tokens_total - seen, 0.0)
        held = eng.sim.sched.node_job >= 0
        slot_family = np.zeros(meter.owner.shape[0], dtype=np.int64)
        slot_family[eng.sim.sched.node_job[held]] = meter.node_family[held]
        family_tokens += np.bincount(slot_family, weights=delta, minlength=len(FAMILIES))
        assert np.array_equal(meter.family_tokens, family_tokens), i
        assert np.array_equal(meter.slot_dollars[live], slot_dollars[live]), i
        assert np.array_equal(meter.ledger.dollars, ref.dollars), i
        assert np.array_equal(meter.ledger.node_seconds, ref.node_seconds), i
        want = np.bincount(eng.sim.sched.node_job[held], weights=meter.node_rate[held],
                           minlength=meter.owner.shape[0])
        assert np.array_equal(meter.slot_per_hour, want), i
    assert eng.sim.sched.failed > 0 and meter.finished
    assert restarts_in_place > 0  # the case that once lost tokens was exercised


def test_fleet_series_are_catalogued_with_their_exposition_types() -> None:
    eng = Engine(preset_config("tiny", seed=7))
    eng.step(60.0)
    text = render_self_metrics(FleetSnapshot.capture(eng))
    for name, type_ in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        assert BY_NAME[name].exposition_type == type_, name
        help_ = re.search(rf"^# HELP {name} (.*)$", text, re.M)
        assert help_ is not None and help_.group(1) == BY_NAME[name].help
