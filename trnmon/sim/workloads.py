"""Workloads: job specs and their costs, from the performance rulebook (trnmon/sim/perf.py).

Costs are evaluated once per job event (start, restart) by `trnmon.sim.jobcost`, the same
rules `trnmon estimate` prints: training step, MFU, link bytes per fabric, HBM by category
and the async checkpoint pause; a serving deployment's static batch, its decode step
(memory + TP all-reduces + floor, constant for the compiled batch), TTFT and its KV cache,
allocated at load. The request rate moves every tick, so the serving solve is written over
numpy arrays of jobs and evaluated for all serving jobs at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trnmon.hw.catalog import ChipSpec
from trnmon.hw.models import MODEL_ALIASES, MODEL_ARCH_BY_NAME, model_arch
from trnmon.sim import jobcost
from trnmon.sim.rules import (
    HBM_EFFICIENCY,
    JobKind,
)

MIB = 1 << 20
BF16 = 2
TRAINING_FLOP_PER_BYTE = 180.0


@dataclass(frozen=True, slots=True)
class Model:
    """A model's shape: parameters, layers, hidden size and KV heads (for the cost model)."""

    name: str
    params: float
    layers: int
    hidden: int
    kv_heads: int
    head_dim: int

    def kv_bytes_per_token(self) -> float:
        """2 (K and V) x layers x kv heads x head dim x bf16 (emulation-model §2)."""
        return 2.0 * self.layers * self.kv_heads * self.head_dim * BF16


def _model(name: str) -> Model:
    a = model_arch(name)
    return Model(name, float(a.params), a.layers, a.hidden, a.kv_heads, a.head_dim)


# Every model of the catalog (trnmon/hw/models.py), and the names older configs used.
MODELS: dict[str, Model] = {n: _model(n) for n in (*MODEL_ARCH_BY_NAME, *MODEL_ALIASES)}


class JobSpec(BaseModel):
    """What a job runs and on how much hardware; validated when submitted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["pretrain", "finetune", "inference", "batch_inference"]
    model: str = Field(pattern="^(" + "|".join(MODELS) + ")$")
    nodes: int = Field(1, ge=1, le=4096)
    ultraserver: bool = False
    """Place on whole UltraServers (nodes must be a multiple of 4)."""
    instance_family: Literal["trn2", "trn1", "inf2"] = "trn2"
    tp: int = Field(16, ge=1, le=64)
    """Tensor-parallel degree in chips (inside one node, or one UltraServer for 64); the
    rules count it in NeuronCore ranks: tp x ranks per chip."""
    pp: int = Field(1, ge=1, le=64)
    seq_len: int = Field(8192, ge=128, le=131072)
    global_batch: int = Field(512, ge=1, le=1 << 20)
    """Sequences per optimizer step (training)."""
    efficiency: float = Field(0.45, gt=0, le=1)
    """Kept for older specs; the rules make MFU an outcome of model and placement."""
    duration_s: float = Field(6 * 3600.0, gt=0, le=1e8)
    peak_rps: float = Field(20.0, ge=0, le=1e6)
    """Inference: peak requests per second over the day."""
    prompt_tokens: int = Field(1024, ge=1, le=131072)
    output_tokens: int = Field(256, ge=1, le=131072)
    batch: int = Field(0, ge=0, le=4096)
    """Serving: the static batch the deployment compiles (0: 4 online, 64 batch inference;
    halved until it fits beside the weights)."""
    name: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")

    @property
    def job_kind(self) -> JobKind:
        return JobKind[self.kind.upper()]


@dataclass(frozen=True, slots=True)
class TrainingCost:
    """A training job's per-step costs on its placement, evaluated once per placement."""

    chips: int
    step_s: float  # at full clock and healthy links
    compute_s: float
    comm_s: float  # exposed communication (TP + DP)
    bubble: float  # pipeline bubble fraction (p-1)/m
    flops_per_step: float
    tokens_per_step: float
    hbm: tuple[float, float, float, float, float]  # bytes per chip by HBM_CATEGORIES
    hbm_bw_util: float
    intra_port_bytes_per_step: float  # per NeuronLink torus port
    ring_port_bytes_per_step: float  # per UltraServer ring port
    efa_bytes_per_step: float  # per node
    executions_per_step: float
    checkpoint_s: float


def _shape(spec: JobSpec, chips: int, ring: bool, lnc: int) -> jobcost.JobShape:
    return jobcost.JobShape(spec.model, spec.instance_family, chips, spec.tp, spec.pp, ring,
                            lnc)


def _intra_ports(chip: ChipSpec, family: str) -> float:
    return 2.0 if family == "inf2" else 4.0  # inf2: a ring; trn1/trn2: the 4x4 torus


def training_cost(spec: JobSpec, chip: ChipSpec, chips: int, *, ultraserver_ring: bool,
                  efa_per_node: float, lnc: int = 2) -> TrainingCost:
    """A training job's step on its placement, by the rules (`jobcost.train`)."""
    shape = _shape(spec, chips, ultraserver_ring, lnc)
    place = jobcost.placement(shape)
    est = jobcost.train(shape, seq_len=spec.seq_len, global_batch=spec.global_batch)
    # The job table rebuilds the step as (compute / clock + comm / links) x (1 + bubble):
    # everything that is not compute goes to `comm_s`, so a healthy job steps at est.step_s.
    comm = max(0.0, est.step_s / (1.0 + est.bubble) - est.compute_s)
    hbm = est.hbm
    cap = chip.hbm_bytes - hbm.model_code - hbm.scratchpad - hbm.runtime
    tensors = min(hbm.tensors, cap)  # the compiler would shard or recompute more: cap it
    tokens = float(spec.global_batch * spec.seq_len)
    # HBM traffic from the arithmetic intensity of fused transformer kernels (FLOP/byte),
    # below Trn2's BF16 ridge point of ~226 (emulation-model §2).
    hbm_traffic = est.flops_per_step / chips / TRAINING_FLOP_PER_BYTE / max(est.step_s, 1e-9)
    del efa_per_node  # the rules read the instance's EFA from the catalog
    return TrainingCost(
        chips=chips, step_s=est.step_s, compute_s=est.compute_s, comm_s=comm,
        bubble=est.bubble, flops_per_step=est.flops_per_step, tokens_per_step=tokens,
        hbm=(tensors, 0.0, hbm.model_code, hbm.scratchpad, hbm.runtime),
        hbm_bw_util=min(0.95, hbm_traffic / chip.hbm_bandwidth),
        intra_port_bytes_per_step=est.intra_bytes_per_step / _intra_ports(
            chip, spec.instance_family),
        ring_port_bytes_per_step=est.ring_bytes_per_step / 2.0,
        efa_bytes_per_step=est.efa_bytes_per_step * place.instance.chips,  # per node
        executions_per_step=max(1.0, spec.global_batch / place.dp),  # micro-batches
        checkpoint_s=est.checkpoint_pause_s,
    )


@dataclass(frozen=True, slots=True)
class ServingModel:
    """Per-job constants of an inference deployment (per chip where it says so).

    NxD Inference decodes the whole compiled batch every step, so the step does not depend
    on how many slots hold requests: `formulas.decode_step` sees it as `weight_bytes` (the step's
    seconds expressed as bytes at the roofline's bandwidth) with no per-sequence KV term,
    and the KV cache, allocated at load, is a constant part of `hbm`.
    """

    weight_bytes: float  # per chip: the decode step as bytes at HBM_EFFICIENCY x bandwidth
    kv_bytes_per_seq: float  # 0: the cache is allocated at load (in `hbm`)
    kv_capacity_seqs: float  # the static batch
    hbm_bw: float
    flops_per_token: float  # whole model
    flops_per_token_chip: float
    prefill_s_per_req: float  # context encoding per request
    output_tokens: float
    peak_rps: float
    chips: int
    peak_flops: float  # per chip
    hbm: tuple[float, float, float, float, float]  # per chip by HBM_CATEGORIES
    ttft_s: float
    itl_s: float
    intra_port_bytes_per_step: float  # per NeuronLink port: one decode step's all-reduces
    ring_port_bytes_per_step: float  # per UltraServer ring port


def serving_model(spec: JobSpec, chip: ChipSpec, chips: int, *, lnc: int = 2) -> ServingModel:
    """An inference deployment at its static batch, by the rules (`jobcost.serve`)."""
    batch = spec.batch or (jobcost.DEFAULT_ONLINE_BATCH if spec.job_kind == JobKind.INFERENCE
                           else jobcost.DEFAULT_OFFLINE_BATCH)
    shape = jobcost.JobShape(spec.model, spec.instance_family, chips, spec.tp, 1, False, lnc)
    est = jobcost.serve(shape, batch=batch, input_len=spec.prompt_tokens,
                        output_len=spec.output_tokens)
    arch = model_arch(spec.model)
    tp_chips = max(1, chips // max(est.replicas, 1))
    peak = chip.bf16_tflops * 1e12
    h = est.hbm
    cap = chip.hbm_bytes - h.model_code - h.scratchpad - h.runtime
    weights = min(h.constants, cap)
    return ServingModel(
        weight_bytes=est.itl_s * chip.hbm_bandwidth * HBM_EFFICIENCY, kv_bytes_per_seq=0.0,
        kv_capacity_seqs=float(est.batch * est.replicas), hbm_bw=chip.hbm_bandwidth,
        flops_per_token=2.0 * arch.active_params,
        flops_per_token_chip=2.0 * arch.active_params / tp_chips,
        prefill_s_per_req=est.ttft_s / est.batch,
        output_tokens=float(spec.output_tokens),
        peak_rps=spec.peak_rps if spec.job_kind == JobKind.INFERENCE else 1e9,
        chips=chips, peak_flops=peak,
        hbm=(min(h.tensors, max(0.0, cap - weights)), weights, h.model_code, h.scratchpad,
             h.runtime),
        ttft_s=est.ttft_s, itl_s=est.itl_s,
        intra_port_bytes_per_step=est.decode_intra_bytes_per_s * est.itl_s / _intra_ports(
            chip, spec.instance_family),
        ring_port_bytes_per_step=est.decode_ring_bytes_per_s * est.itl_s / 2.0,
    )
