"""The emulated fleet runs on the rulebook: the same numbers `trnmon estimate` prints."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from tests.conftest import preset_config
from trnmon.api.views import job_model
from trnmon.sim import Engine, jobcost
from trnmon.sim.rules import JobState
from trnmon.sim.workloads import JobSpec
from trnmon.snapshot import FleetSnapshot

CONSTANTS, TENSORS = 1, 0


def _engine(*specs: JobSpec) -> tuple[Engine, list[int]]:
    eng = Engine(preset_config("tiny", seed=1, faults={"enabled": False},
                               workload={"arrivals_per_hour": 0.0}))
    for rec in list(eng.jobs.records.values()):
        eng.cancel(rec.job_id)
    ids = [eng.submit(s) for s in specs]
    for _ in range(30):  # loading (90 s) and a few running ticks
        eng.step(5.0)
    return eng, ids


def _slot(eng: Engine, job_id: int) -> int:
    return next(s for s, r in eng.jobs.records.items() if r.job_id == job_id)


def test_training_job_steps_at_the_estimate() -> None:
    spec = JobSpec(kind="pretrain", model="llama3-70b", nodes=4, ultraserver=True, tp=16,
                   pp=2, seq_len=8192, global_batch=256)
    eng, (jid,) = _engine(spec)
    slot = _slot(eng, jid)
    est = jobcost.train(jobcost.JobShape("llama3-70b", "trn2", 64, 16, 2, True),
                        seq_len=8192, global_batch=256)
    assert eng.jobs.state[slot] == JobState.RUNNING
    assert eng.jobs.step_s[slot] == pytest.approx(est.step_s, rel=0.05)  # jitter aside
    assert eng.jobs.mfu[slot] == pytest.approx(est.mfu, rel=0.05)
    chips = np.flatnonzero(eng.chip_job == slot)
    assert (eng.state.hbm_used[chips, CONSTANTS] == 0).all()  # training weights: tensors
    assert (eng.state.hbm_used[chips, TENSORS] > 0).all()


def test_serving_hbm_constant_and_decode_link_traffic() -> None:
    spec = JobSpec(kind="inference", model="llama3-70b", nodes=1, tp=16, peak_rps=5.0)
    eng, (jid,) = _engine(spec)
    slot = _slot(eng, jid)
    chips = np.flatnonzero(eng.chip_job == slot)
    hbm = eng.state.hbm_used[chips].copy()
    tx = eng.state.link_tx_bytes[chips].sum()
    for _ in range(40):
        eng.step(30.0)  # the request rate moves with the day
    assert np.array_equal(eng.state.hbm_used[chips], hbm)  # KV cache allocated at load
    assert eng.state.link_tx_bytes[chips].sum() > tx  # decode all-reduces on NeuronLink
    est = jobcost.serve(jobcost.JobShape("llama3-70b", "trn2", 16, 16, 1, False), batch=4,
                        input_len=spec.prompt_tokens, output_len=spec.output_tokens)
    assert hbm[:, TENSORS] == pytest.approx(est.hbm.tensors, rel=1e-5)  # the KV cache
    assert hbm[:, CONSTANTS] == pytest.approx(est.hbm.constants, rel=1e-5)  # the weights


def test_batch_inference_mfu_below_training() -> None:
    train = JobSpec(kind="pretrain", model="llama3-8b", nodes=1, tp=16, global_batch=64)
    batch = JobSpec(kind="batch_inference", model="llama3-8b", nodes=1, tp=16)
    eng, (t_id, b_id) = _engine(train, batch)
    t_mfu = float(eng.jobs.mfu[_slot(eng, t_id)])
    b_mfu = float(eng.jobs.mfu[_slot(eng, b_id)])
    assert 0 < b_mfu < t_mfu


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_downed_link_moves_its_bytes_to_the_other_ports(backend: str) -> None:
    spec = JobSpec(kind="pretrain", model="llama3-8b", nodes=1, tp=16, global_batch=64)
    eng, (jid,) = _engine(spec)
    eng.kernel.backend = eng.jobs.backend = backend
    slot = _slot(eng, jid)
    chip = int(np.flatnonzero(eng.chip_job == slot)[0])

    def tick_bytes() -> npt.NDArray[np.float64]:
        before = eng.state.link_tx_bytes[chip].copy()
        eng.step(5.0)
        return np.asarray(eng.state.link_tx_bytes[chip] - before, dtype=np.float64)

    healthy = tick_bytes()
    assert (healthy[:4] > 0).all()
    eng.inject("link_down", chip=chip, port=0)
    eng.step(5.0)
    rerouted = tick_bytes()
    assert rerouted[0] == 0
    # The three other torus ports carry the chip's whole share (the job itself runs a
    # little slower behind the downed link).
    assert rerouted[1:4] == pytest.approx([rerouted[1:4].sum() / 3] * 3, rel=1e-3)
    assert rerouted[1:4].sum() > 0.8 * healthy[:4].sum()
    assert rerouted[1] > 1.1 * healthy[1]


def test_serving_jobs_report_ttft_and_itl() -> None:
    spec = JobSpec(kind="inference", model="llama3-8b", nodes=1, tp=16, peak_rps=5.0)
    train = JobSpec(kind="pretrain", model="llama3-8b", nodes=1, tp=16, global_batch=64)
    eng, (sid, tid) = _engine(spec, train)
    views = {j.job_id: j for j in FleetSnapshot.capture(eng).jobs}
    est = jobcost.serve(jobcost.JobShape("llama3-8b", "trn2", 16, 16, 1, False), batch=4,
                        input_len=spec.prompt_tokens, output_len=spec.output_tokens)
    serving = views[sid]
    assert serving.ttft_s == pytest.approx(est.ttft_s)
    assert serving.itl_s == serving.step_s == pytest.approx(est.itl_s, rel=0.05)
    assert views[tid].ttft_s == views[tid].itl_s == 0.0
    model = job_model(serving)
    assert model.ttft_seconds == serving.ttft_s and model.itl_seconds == serving.itl_s
