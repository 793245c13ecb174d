"""Emulated jobs are costed by the same rules as `trnmon estimate`."""

from __future__ import annotations

import pytest

from trnmon.hw.catalog import INSTANCE_TYPE_BY_NAME
from trnmon.hw.models import model_arch
from trnmon.sim import jobcost, perf
from trnmon.sim.placement import make_placement


def test_job_shape_maps_to_the_estimate_placement() -> None:
    shape = jobcost.JobShape("llama3-70b", "trn2", chips=128, tp_chips=16, pp=2,
                             ultraserver_ring=True)
    p = jobcost.placement(shape)
    assert (p.tp, p.pp, p.dp, p.nodes, p.ultraserver) == (64, 2, 4, 8, True)
    same = make_placement(INSTANCE_TYPE_BY_NAME["trn2u.48xlarge"], nodes=8, tp=64, pp=2)
    job = jobcost.train(shape, seq_len=8192, global_batch=512)
    est = perf.train(model_arch("llama3-70b"), same, seq_len=8192, global_batch=512)
    assert job.step_s == est.step_s and job.mfu == est.mfu


def test_tp_in_chips_becomes_ranks() -> None:
    lnc1 = jobcost.placement(jobcost.JobShape("llama3-8b", "trn2", 16, 16, 1, False, lnc=1))
    assert lnc1.tp == 128
    trn1 = jobcost.placement(jobcost.JobShape("llama3-8b", "trn1", 16, 16, 1, False))
    assert trn1.tp == 32
    inf2 = jobcost.placement(jobcost.JobShape("llama3-8b", "inf2", 12, 16, 1, False))
    assert inf2.tp == 24  # clamped to the node's 12 chips


def test_replicas_in_other_ultraservers_reduce_over_efa() -> None:
    shape = jobcost.JobShape("llama3-405b", "trn2", chips=256, tp_chips=16, pp=8,
                             ultraserver_ring=True)
    p = jobcost.placement(shape)
    assert p.dp == 2 and p.dp_span.efa_nodes == 2 and p.dp_span.ring_nodes == 1
    assert jobcost.train(shape, seq_len=8192, global_batch=512).efa_bytes_per_step > 0


def test_serving_batch_shrinks_until_it_fits() -> None:
    shape = jobcost.JobShape("llama3-70b", "trn2", chips=16, tp_chips=16, pp=1,
                             ultraserver_ring=False)
    est = jobcost.serve(shape, batch=4096, input_len=8000, output_len=8000)
    assert est.fits and 1 <= est.batch < 4096
    assert jobcost.serve(shape, batch=4, input_len=1024, output_len=256).batch == 4
    with pytest.raises(KeyError):
        jobcost.serve(jobcost.JobShape("nope", "trn2", 16, 16, 1, False), batch=1,
                      input_len=1, output_len=1)
