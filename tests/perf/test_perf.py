"""The performance rulebook: placements, collectives, training and serving outcomes."""

from __future__ import annotations

import pytest

from trnmon.hw.catalog import GIB, INSTANCE_TYPE_BY_NAME
from trnmon.hw.models import model_arch
from trnmon.sim import comm, perf
from trnmon.sim.placement import PerfError, make_placement

TRN2 = INSTANCE_TYPE_BY_NAME["trn2.48xlarge"]
TRN2U = INSTANCE_TYPE_BY_NAME["trn2u.48xlarge"]
TRN1 = INSTANCE_TYPE_BY_NAME["trn1.32xlarge"]
INF2 = INSTANCE_TYPE_BY_NAME["inf2.48xlarge"]


def test_tp_counts_neuron_ranks() -> None:
    assert make_placement(TRN2, tp=64).tp_chips == 16  # logical cores at LNC=2
    assert make_placement(TRN2, lnc=1, tp=128).tp_chips == 16
    assert make_placement(TRN1, tp=32).tp_chips == 16  # physical cores
    assert make_placement(INF2, tp=24).tp_chips == 12
    p = make_placement(TRN2U, nodes=8, tp=64)
    assert (p.dp, p.ultraserver) == (8, True)
    with pytest.raises(PerfError, match="does not divide"):
        make_placement(TRN2, tp=48)
    with pytest.raises(PerfError, match="ranks"):
        make_placement(TRN2, tp=64, dp=2)


def test_all_reduce_volume_and_latency() -> None:
    span = comm.Span(chips_per_node=16)
    big = comm.collective(comm.Collective.ALL_REDUCE, 1e9, TRN2, span)
    assert big.intra_bytes == pytest.approx(2 * 15 / 16 * 1e9)  # 2(n-1)/n S
    small = comm.collective(comm.Collective.ALL_REDUCE, 16384, TRN2, span)
    assert small.seconds == pytest.approx(comm.MESH_STEPS * comm.HOP_LATENCY_S, rel=0.05)
    ring = comm.collective(comm.Collective.ALL_REDUCE, 16384, TRN1, span)
    assert ring.seconds > 5 * small.seconds  # torus rings on Trn1: 12 hops, not 2
    across = comm.collective(comm.Collective.ALL_REDUCE, 16384, TRN2,
                             comm.Span(16, efa_nodes=4))
    assert across.seconds >= small.seconds + 4 * comm.EFA_LATENCY_S  # 2 log2(4) steps


def test_405b_on_four_ultraservers_uses_the_ring() -> None:
    arch = model_arch("llama3.1-405b")
    us = perf.train(arch, make_placement(TRN2U, nodes=16, tp=64, pp=4), seq_len=8192,
                    global_batch=512)
    efa = perf.train(arch, make_placement(TRN2, nodes=16, tp=64, pp=4), seq_len=8192,
                     global_batch=512)
    assert us.ring_bytes_per_step > 0 and efa.ring_bytes_per_step == 0
    assert efa.efa_bytes_per_step > us.efa_bytes_per_step
    assert us.step_s < efa.step_s and us.mfu > efa.mfu


def test_mfu_is_an_outcome_of_the_placement() -> None:
    arch = model_arch("llama3-70b")
    thin = perf.train(arch, make_placement(TRN2, nodes=4, tp=64), global_batch=256)
    wide = perf.train(arch, make_placement(TRN2, nodes=4, tp=16), global_batch=256)
    assert 0.1 < thin.mfu < wide.mfu < 0.5


def test_pipeline_bubble_and_p2p() -> None:
    arch = model_arch("llama3.1-70b")
    t = perf.train(arch, make_placement(TRN1, nodes=32, tp=32, pp=8, dp=4), global_batch=1024)
    assert t.bubble == pytest.approx(7 / 256)
    assert t.p2p_s > 0 and t.efa_bytes_per_step > 0


def test_moe_costs_active_parameters_and_all_to_all() -> None:
    arch = model_arch("mixtral-8x22b")
    place = make_placement(TRN2U, nodes=8, tp=64, ep=8)
    t = perf.train(arch, place, seq_len=4096, global_batch=256)
    assert t.flops_per_step == pytest.approx(256 * 4096 * arch.train_flops_per_token(4096))
    assert t.ep_s > 0
    no_ep = perf.train(arch, make_placement(TRN2U, nodes=8, tp=64), seq_len=4096,
                       global_batch=256)
    assert no_ep.ep_s == 0 and no_ep.hbm.total > t.hbm.total  # experts sharded over ep


def test_async_checkpoint_is_weights_and_optimizer_without_grads() -> None:
    arch = model_arch("llama3-70b")
    t = perf.train(arch, make_placement(TRN2, nodes=1, tp=64), global_batch=64)
    assert t.checkpoint_bytes == pytest.approx(arch.params * (2 + 12))
    assert t.checkpoint_pause_s < 0.01 * t.step_s * 20  # < 1 % at a checkpoint per 20 steps
    assert t.checkpoint_write_s > t.checkpoint_pause_s  # written in the background


def test_training_hbm_and_fit() -> None:
    arch = model_arch("llama3.1-405b")
    assert not perf.train(arch, make_placement(TRN2, nodes=1, tp=64), global_batch=8).fits
    assert perf.train(arch, make_placement(TRN2U, nodes=16, tp=64, pp=8),
                      global_batch=512).fits
    with pytest.raises(PerfError, match="int8"):
        perf.train(arch, make_placement(TRN2, tp=64), dtype="int8")


def test_decode_step_parts() -> None:
    arch = model_arch("llama3.3-70b")
    s = perf.serve(arch, make_placement(TRN2, tp=64), input_len=10000, output_len=1500)
    # two all-reduces per layer per token, Mesh on Trn2: 2 hops each
    assert s.decode_collective_s == pytest.approx(
        2 * arch.layers * comm.MESH_STEPS * comm.HOP_LATENCY_S, rel=0.05)
    assert s.itl_s == pytest.approx(max(s.decode_memory_s, s.decode_compute_s)
                                    + s.decode_collective_s
                                    + perf.STACKS[TRN2.chip].step_floor_s)
    assert s.decode_intra_bytes_per_s > 0  # decode produces NeuronLink traffic
    single = perf.serve(model_arch("llama3-8b"), make_placement(TRN2, tp=4))
    assert single.decode_intra_bytes_per_s == 0  # one chip: no links


def test_kv_cache_allocated_at_load_for_the_static_batch() -> None:
    arch = model_arch("llama3-70b")
    place = make_placement(TRN2, tp=64)
    one = perf.serve(arch, place, batch=1, input_len=2000, output_len=2000)
    four = perf.serve(arch, place, batch=4, input_len=2000, output_len=2000)
    assert four.kv_bytes_per_chip == 4 * one.kv_bytes_per_chip
    assert one.kv_bytes_per_chip == perf.bucket(4000) * perf.kv_bytes_per_token_chip(arch, place)
    assert four.hbm.constants == one.hbm.constants  # weights are constants when serving
    big = perf.serve(arch, place, batch=4096, input_len=8000, output_len=8000)
    assert not big.fits


def test_batch_inference_mfu_below_training() -> None:
    arch = model_arch("llama3-70b")
    place = make_placement(TRN2, nodes=4, tp=64)
    train = perf.train(arch, place, global_batch=256)
    batch = perf.serve(arch, place, batch=64, input_len=1024, output_len=512)
    assert batch.fits and 0 < batch.mfu < train.mfu


def test_serving_weights_dtype() -> None:
    arch = model_arch("llama3-8b")
    bf16 = perf.serve(arch, make_placement(TRN1, tp=32))
    int8 = perf.serve(arch, make_placement(TRN1, tp=32), dtype="int8")
    assert int8.hbm.constants == pytest.approx(bf16.hbm.constants / 2)
    assert int8.itl_s < bf16.itl_s
    assert bf16.hbm.total < 32 * GIB
