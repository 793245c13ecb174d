"""Workloads costed with closed-form roofline formulas (emulation-model.md §1-2).

Training cost is evaluated once per job event (start, restart): compute time at the job's
efficiency, exposed tensor- and data-parallel collectives, the pipeline bubble, and the HBM
footprint. Inference cost depends on the request rate, which moves every tick, so it is
written over numpy arrays of jobs and evaluated for all serving jobs at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from trnmon.hw.catalog import GIB, ChipSpec
from trnmon.sim.rules import (
    COMPUTE_EFFICIENCY,
    DECODE_BUSY_BASE,
    DECODE_BUSY_INTENSITY,
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


MODELS: dict[str, Model] = {m.name: m for m in (
    Model("llama3-8b", 8.0e9, 32, 4096, 8, 128),
    Model("llama3-70b", 70.6e9, 80, 8192, 8, 128),
    Model("llama3-405b", 405e9, 126, 16384, 8, 128),
    Model("mistral-7b", 7.2e9, 32, 4096, 8, 128),
    Model("mixtral-8x22b", 141e9, 56, 6144, 8, 128),
)}


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
    """Tensor-parallel degree in chips (inside one node, or one UltraServer for 64)."""
    pp: int = Field(1, ge=1, le=64)
    seq_len: int = Field(8192, ge=128, le=131072)
    global_batch: int = Field(512, ge=1, le=1 << 20)
    """Sequences per optimizer step (training)."""
    efficiency: float = Field(0.45, gt=0, le=1)
    """Compute efficiency of the job's kernels (MFU before communication and bubble)."""
    duration_s: float = Field(6 * 3600.0, gt=0, le=1e8)
    peak_rps: float = Field(20.0, ge=0, le=1e6)
    """Inference: peak requests per second over the day."""
    prompt_tokens: int = Field(1024, ge=1, le=131072)
    output_tokens: int = Field(256, ge=1, le=131072)
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


def _runtime_overheads(chip: ChipSpec) -> tuple[float, float, float]:
    """model_code, model_shared_scratchpad, runtime_memory per chip (plausible sizes)."""
    return 160.0 * MIB, min(2.0 * GIB, chip.hbm_bytes * 0.02), 320.0 * MIB


def training_cost(spec: JobSpec, chip: ChipSpec, chips: int, *, ultraserver_ring: bool,
                  efa_per_node: float) -> TrainingCost:
    """Closed-form step cost of a data/tensor/pipeline-parallel training job."""
    m = MODELS[spec.model]
    tp = min(spec.tp, chips)
    pp = max(1, min(spec.pp, chips // tp))
    dp = max(1, chips // (tp * pp))
    tokens = float(spec.global_batch * spec.seq_len)
    # FLOPs: 6N per token plus attention 12 L h s (PaLM App. B)
    flops = tokens * (6.0 * m.params + 12.0 * m.layers * m.hidden * spec.seq_len)
    peak = chip.bf16_tflops * 1e12
    compute = flops / (chips * peak * spec.efficiency)

    # Tensor parallel: 4 all-reduces per layer of b*s*h*2 bytes, over the 2D torus with all
    # 4 ports carrying disjoint chunks (emulation-model §1, torus all-reduce).
    tokens_per_replica = tokens / dp
    tp_bytes = 4.0 * (m.layers / pp) * tokens_per_replica * m.hidden * BF16 if tp > 1 else 0.0
    tp_volume = 2.0 * (tp - 1) / tp * tp_bytes if tp > 1 else 0.0
    torus_bw = 4.0 * chip.neuronlink_bandwidth * 0.8 / 4.0  # 4 intra ports, 80% efficiency
    tp_time = tp_volume / torus_bw
    # Data parallel: ring all-reduce of the bf16 gradients, 2(n-1)/n * S / B, over the
    # UltraServer ring when the replicas share one, else over EFA.
    grad_bytes = BF16 * m.params / (tp * pp)
    dp_volume = 2.0 * (dp - 1) / dp * grad_bytes if dp > 1 else 0.0
    per_chip_efa = efa_per_node / 16.0 if efa_per_node > 0 else 25e9
    dp_bw = 2 * 128e9 * 0.8 if ultraserver_ring else per_chip_efa * 0.8
    dp_time = dp_volume / dp_bw
    # Most communication overlaps compute; what stays exposed (SimAI-style overlap ratios):
    comm = 0.35 * tp_time + 0.25 * dp_time
    # Micro-batches of one sequence: each replica runs global_batch/dp of them per step.
    micro = max(1.0, spec.global_batch / dp)
    bubble = (pp - 1) / micro
    step = (compute + comm) * (1.0 + bubble)

    # HBM per chip: bf16 weights + grads, fp32 master/m/v sharded over DP (ZeRO-1),
    # selective-recompute activations 34*s*b*h/t per layer for the layers of a stage.
    weights = BF16 * m.params / (tp * pp)
    grads = BF16 * m.params / (tp * pp)
    optim = 12.0 * m.params / (tp * pp * dp)
    act = 34.0 * spec.seq_len * m.hidden / tp * (m.layers / pp) * min(pp, 4)
    code, scratch, runtime = _runtime_overheads(chip)
    capacity = chip.hbm_bytes - code - scratch - runtime
    tensors = grads + optim + act
    if weights + tensors > capacity:  # the compiler would shard or recompute more: cap it
        tensors = max(0.0, capacity - weights)
        weights = min(weights, capacity)
    # HBM traffic from the arithmetic intensity of fused transformer kernels (FLOP/byte),
    # below Trn2's BF16 ridge point of ~226 (emulation-model §2).
    hbm_traffic = flops / chips / TRAINING_FLOP_PER_BYTE / max(step, 1e-9)
    ring_bytes = dp_volume / 2.0 if (dp > 1 and ultraserver_ring) else 0.0
    efa_bytes = 0.0 if ultraserver_ring else dp_volume * 16.0
    checkpoint = 16.0 * m.params / chips / 2.0e9 * 16  # node writes its shard at ~2 GB/s/chip
    return TrainingCost(
        chips=chips, step_s=step, compute_s=compute, comm_s=comm, bubble=bubble,
        flops_per_step=flops, tokens_per_step=tokens,
        hbm=(tensors, weights, code, scratch, runtime),
        hbm_bw_util=min(0.95, hbm_traffic / chip.hbm_bandwidth),
        intra_port_bytes_per_step=tp_volume / 4.0,
        ring_port_bytes_per_step=ring_bytes,
        efa_bytes_per_step=efa_bytes,
        executions_per_step=micro,
        checkpoint_s=min(600.0, max(20.0, checkpoint)),
    )


@dataclass(frozen=True, slots=True)
class ServingModel:
    """Per-job constants of an inference deployment (per chip where it says so)."""

    weight_bytes: float  # per chip
    kv_bytes_per_seq: float  # per chip, at the mean context length
    kv_capacity_seqs: float  # how many sequences fit beside the weights
    hbm_bw: float
    flops_per_token: float  # whole model
    flops_per_token_chip: float
    prefill_s_per_req: float  # whole job, compute-bound
    output_tokens: float
    peak_rps: float
    chips: int
    peak_flops: float  # per chip


def serving_model(spec: JobSpec, chip: ChipSpec, chips: int) -> ServingModel:
    m = MODELS[spec.model]
    code, scratch, runtime = _runtime_overheads(chip)
    weights = BF16 * m.params / chips
    ctx = spec.prompt_tokens + spec.output_tokens / 2.0
    kv_seq = m.kv_bytes_per_token() * ctx / chips
    free = max(0.0, chip.hbm_bytes - code - scratch - runtime - weights) * 0.9
    peak = chip.bf16_tflops * 1e12
    return ServingModel(
        weight_bytes=min(weights, chip.hbm_bytes * 0.9), kv_bytes_per_seq=kv_seq,
        kv_capacity_seqs=max(1.0, free / max(kv_seq, 1.0)), hbm_bw=chip.hbm_bandwidth,
        flops_per_token=2.0 * m.params, flops_per_token_chip=2.0 * m.params / chips,
        prefill_s_per_req=2.0 * m.params * spec.prompt_tokens / (chips * peak * 0.5),
        output_tokens=float(spec.output_tokens),
        peak_rps=spec.peak_rps if spec.job_kind == JobKind.INFERENCE else 1e9,
        chips=chips, peak_flops=peak,
    )


F64 = npt.NDArray[np.float64]


def serving_step(rps: F64, w: F64, kv: F64, cap: F64, bw: F64, out_tok: F64, prefill: F64,
                 flops_tok: F64, peak: F64) -> tuple[F64, F64, F64, F64]:
    """Decode under Little's law and the roofline, vectorized over jobs (per chip).

    Concurrency C = rps * out_tokens * t_step with the memory-bound step
    t_step = (W + C*kv) / (BW*eta) gives C = rps*o*W / (BW*eta - rps*o*kv), capped by the KV
    capacity (eta = rules.HBM_EFFICIENCY); the step is then the slower of memory and
    compute (C tokens x 2P/chips FLOPs).
    Returns (concurrency, decode step seconds, busy fraction, served requests/s).
    """
    mem_bw = np.maximum(bw * HBM_EFFICIENCY, 1.0)
    demand = rps * out_tok
    denom = np.maximum(mem_bw - demand * kv, 1e-9)
    conc = np.minimum(demand * w / denom, cap)
    t_mem = (w + conc * kv) / mem_bw
    t_comp = conc * flops_tok / np.maximum(peak * COMPUTE_EFFICIENCY, 1.0)
    t_step = np.maximum(t_mem, t_comp)
    served = np.minimum(rps, conc / np.maximum(t_step * out_tok, 1e-12))
    # Time with at least one sequence in flight (Poisson), engines partly stalled on DMA
    # while decode is memory-bound; plus compute-bound prefill.
    intensity = np.divide(t_comp, t_step, out=np.zeros_like(t_step), where=t_step > 0)
    busy = ((1.0 - np.exp(-conc)) * (DECODE_BUSY_BASE + DECODE_BUSY_INTENSITY * intensity)
            + served * prefill)
    return conc, t_step, np.minimum(busy, 1.0), served
