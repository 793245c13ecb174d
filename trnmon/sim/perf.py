"""The performance rulebook: training steps and serving latency from model + placement.

Pure functions of a `ModelArch` (trnmon/hw/models.py), a `Placement` (ranks, links) and a
weight dtype. `trnmon estimate` prints them, `trnmon calibrate` checks them against
published measurements (trnmon/sim/calibration.py), and the emulated fleet costs its jobs
with them. Every step is built from the same parts (emulation-model.md §0):

- compute = FLOPs / (chips x peak x efficiency), the efficiency an outcome of the
  per-rank matmul width: eta = peak_eff x w / (w + MATMUL_HALF_WIDTH), w = hidden / tp, so
  slicing a model thinner costs throughput (Calculon's size-dependent efficiency);
- memory = bytes / (HBM bandwidth x efficiency);
- communication = latency + bytes / bandwidth over the links the placement uses
  (trnmon/sim/comm.py), exposed in part.

Serving is modelled the way NxD Inference runs it: static batch buckets, the KV cache
allocated at load for batch x max sequence, and per decode step
max(memory, compute) + 2 all-reduces per layer + a per-step floor. MFU is an outcome.

Coefficients: "published" ones cite their row; "fitted" ones were chosen by least squares
over the rows of trnmon/sim/calibration.py (the fit is reproducible with
`trnmon calibrate`); "placeholder" ones are not published and only plausible.
"""

from __future__ import annotations

from dataclasses import dataclass

from trnmon.hw.catalog import GIB, ChipKind, ChipSpec
from trnmon.hw.models import ModelArch
from trnmon.sim.comm import Collective, CollectiveCost, collective, p2p
from trnmon.sim.placement import DTYPE_BYTES, Dtype, PerfError, Placement

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class Stack:
    """Coefficients of the software stack a chip generation was measured with.

    The Trn1 and Inf2 rows were measured with Transformers-NeuronX (SDK 2.18), the Trn2 rows
    with NxD Inference behind vLLM and LLMPerf; they differ in kernels and host loop.
    """

    hbm_efficiency: float  # fitted: share of HBM bandwidth a decode step streams weights at
    kv_read_penalty: float  # fitted: KV-cache bytes cost this many weight bytes
    step_floor_s: float  # fitted: per-step host/framework time outside the device
    prefill_peak_efficiency: float  # fitted: peak_eff of context encoding
    cte_overhead_s: float  # fitted: fixed time of a context-encoding request


STACKS: dict[ChipKind, Stack] = {
    # Rows N1, N3 (Trn2, NxDI + vLLM 0.x, LLMPerf over the OpenAI API). The floor is
    # larger than H11's 437 us launch gap: it includes vLLM's scheduler and streaming.
    ChipKind.TRAINIUM2: Stack(0.83, 1.0, 14.7e-3, 0.50, 0.0),
    # Rows R2, R4, R6 (Trn1, Transformers-NeuronX 2.18).
    ChipKind.TRAINIUM1: Stack(0.52, 1.34, 3.2e-3, 0.21, 4.0e-3),
    # Rows F1, F6 (Inf2, Transformers-NeuronX 2.18): Inf2 shows ~13 ms more per context
    # encoding than Trn1 for the same model and prompt; the model has no cause for it.
    ChipKind.INFERENTIA2: Stack(0.52, 1.34, 3.2e-3, 0.21, 16.2e-3),
}
# fitted: per-rank hidden slice (hidden / tp) at which matmul efficiency is half its peak.
MATMUL_HALF_WIDTH = 110.0
# fitted (rows T1, T2, T10, T15, Trn1 NxD/NeMo): training peak efficiency at wide slices.
TRAIN_PEAK_EFFICIENCY = 0.46
# placeholder (SimAI-style overlap ratios): the share of each collective left exposed.
TP_EXPOSED = 0.5
DP_EXPOSED = 0.3
EP_EXPOSED = 1.0
P2P_EXPOSED = 1.0
# placeholder: runtime allocations per chip beside the model (neuron-monitor categories
# model_code, model_shared_scratchpad, runtime_memory).
MODEL_CODE_BYTES = 160 * MIB
RUNTIME_MEMORY_BYTES = 320 * MIB
SCRATCHPAD_SHARE = 0.02  # of HBM, at most 2 GiB
# Checkpoints (NxD async checkpointing, training_llama_tp_pp.rst `--async_checkpoint_saving`):
# training pauses only while each chip copies its shard to host memory, then the host
# writes it to shared storage in the background. Both bandwidths are placeholders.
DEVICE_TO_HOST_BW_PER_CHIP = 16e9  # bytes/s
STORAGE_WRITE_BW_PER_NODE = 2e9  # bytes/s, per node (FSx-class shared file system)
OPTIMIZER_BYTES_PER_PARAM = 12.0  # fp32 master weights, Adam m and v (emulation-model §2)
MAX_BUCKET = 1 << 17


def bucket(tokens: int) -> int:
    """The static bucket a length compiles to: the next power of two, at least 128."""
    b = 128
    while b < tokens and b < MAX_BUCKET:
        b *= 2
    return b


def peak_flops(chip: ChipSpec, dtype: Dtype) -> float:
    """Dense peak per chip for the dtype's matmuls (fp8 only where the chip has an FP8 rate;
    int8 weights are dequantized to bf16, Transformers-NeuronX's "Matmult-BF16")."""
    tflops = chip.fp8_tflops if dtype == "fp8" else chip.bf16_tflops
    return tflops * 1e12


def matmul_efficiency(peak_eff: float, arch: ModelArch, tp: int) -> float:
    width = arch.hidden / tp
    return peak_eff * width / (width + MATMUL_HALF_WIDTH)


@dataclass(frozen=True, slots=True)
class Hbm:
    """HBM bytes per chip by neuron-monitor category (trainium2-and-neuron-tools §4.3)."""

    tensors: float  # activations, gradients, optimizer state, KV cache, training weights
    constants: float  # inference weights
    model_code: float
    scratchpad: float
    runtime: float

    @property
    def total(self) -> float:
        return self.tensors + self.constants + self.model_code + self.scratchpad + self.runtime


def _overheads(chip: ChipSpec) -> tuple[float, float, float]:
    return (MODEL_CODE_BYTES, min(2.0 * GIB, chip.hbm_bytes * SCRATCHPAD_SHARE),
            RUNTIME_MEMORY_BYTES)


def params_per_rank(arch: ModelArch, p: Placement) -> float:
    """Weights one rank holds: dense layers over tp x pp, experts also over ep."""
    dense = arch.params - arch.expert_params_total
    return dense / (p.tp * p.pp) + arch.expert_params_total / (p.tp * p.pp * p.ep)


@dataclass(frozen=True, slots=True)
class TrainEstimate:
    step_s: float
    tokens_per_s: float
    mfu: float
    compute_s: float
    tp_s: float
    dp_s: float
    ep_s: float
    p2p_s: float
    bubble: float
    flops_per_step: float
    hbm: Hbm
    fits: bool
    intra_bytes_per_step: float  # per chip, NeuronLink inside the instance
    ring_bytes_per_step: float  # per chip, UltraServer ring
    efa_bytes_per_step: float  # per chip, EFA
    checkpoint_bytes: float  # whole job: weights + optimizer state, no gradients
    checkpoint_pause_s: float  # training stops while shards copy to host memory
    checkpoint_write_s: float  # background write to storage


def train(arch: ModelArch, p: Placement, *, dtype: Dtype = "bf16", seq_len: int = 8192,
          global_batch: int = 1024, micro_batch: int = 1) -> TrainEstimate:
    """One optimizer step of a tp x pp x dp (x ep) job with 1F1B pipelining and ZeRO-1."""
    if dtype == "int8":
        raise PerfError("--dtype int8 is an inference weight format; train in bf16 or fp8")
    if p.pp > arch.layers:
        raise PerfError(f"--pp {p.pp} is more than {arch.name}'s {arch.layers} layers")
    micro = global_batch / (p.dp * micro_batch)  # micro-batches per replica per step
    if micro < 1:
        raise PerfError(f"--global-batch {global_batch} is smaller than dp x micro-batch "
                        f"= {p.dp * micro_batch}")
    chip, itype = p.instance.chip_spec, p.instance
    tokens = float(global_batch * seq_len)
    flops = tokens * arch.train_flops_per_token(seq_len)
    peak = peak_flops(chip, dtype)
    eta = matmul_efficiency(TRAIN_PEAK_EFFICIENCY, arch, p.tp)
    layers_stage = float(-(-arch.layers // p.pp))  # the fullest stage sets the pace
    compute = flops / (p.chips * peak * eta) * (layers_stage * p.pp / arch.layers)
    act_bytes = micro_batch * seq_len * arch.hidden * 2.0  # one layer's activations, bf16
    # Tensor parallel: 2 all-reduces forward and 2 backward per layer and micro-batch (with
    # sequence parallelism all-gather + reduce-scatter, the same volume), per chip.
    tp_n = 4.0 * layers_stage * micro
    # The ranks of a chip reduce on-chip first; the chips then all-reduce the buffer.
    tp_one = (collective(Collective.ALL_REDUCE, act_bytes, itype, p.tp_span)
              if p.tp_chips > 1 else CollectiveCost(0, 0, 0, 0))
    tp_s = tp_n * tp_one.seconds * TP_EXPOSED
    # Expert parallel: dispatch + combine, forward and backward, of the routed tokens.
    ep_one = CollectiveCost(0, 0, 0, 0)
    if arch.moe and p.ep > 1:
        routed = act_bytes * arch.active_experts / p.tp * p.ranks_per_chip
        ep_one = collective(Collective.ALL_TO_ALL, routed, itype, p.ep_span)
    ep_n = 4.0 * layers_stage * micro
    ep_s = ep_n * ep_one.seconds * EP_EXPOSED
    # Pipeline: 1F1B bubble (p-1)/m, and a send per micro-batch per boundary each way.
    bubble = (p.pp - 1) / micro
    p2p_one = CollectiveCost(0, 0, 0, 0)
    if p.pp > 1:
        ring = p.ultraserver
        p2p_one = p2p(act_bytes / p.tp_chips, itype, same_node=not p.pp_crosses_node,
                      ring=ring)
    p2p_n = 2.0 * micro
    p2p_s = p2p_n * p2p_one.seconds * P2P_EXPOSED
    # Data parallel (ZeRO-1): reduce-scatter the bf16 gradients, all-gather the weights.
    per_rank = params_per_rank(arch, p)
    grad_chip = 2.0 * per_rank * p.ranks_per_chip
    dp_one = (collective(Collective.ALL_REDUCE, grad_chip, itype, p.dp_span)
              if p.dp > 1 else CollectiveCost(0, 0, 0, 0))
    dp_s = dp_one.seconds * DP_EXPOSED
    step = (compute + tp_s + ep_s) * (1.0 + bubble) + p2p_s + dp_s
    # HBM per chip.
    wbytes = DTYPE_BYTES[dtype]
    rpc = p.ranks_per_chip
    weights = wbytes * per_rank * rpc
    grads = 2.0 * per_rank * rpc
    optim = OPTIMIZER_BYTES_PER_PARAM * per_rank * rpc / p.dp
    # Selective recompute (flash attention): 34 s b h / t per layer; 1F1B keeps up to pp
    # micro-batches in flight on the first stage (emulation-model §2).
    acts = 34.0 * seq_len * micro_batch * arch.hidden / p.tp * layers_stage * min(
        p.pp, micro) * rpc
    code, scratch, runtime = _overheads(chip)
    hbm = Hbm(tensors=weights + grads + optim + acts, constants=0.0, model_code=code,
              scratchpad=scratch, runtime=runtime)
    ckpt = arch.params * (wbytes + OPTIMIZER_BYTES_PER_PARAM)
    ckpt_chip = ckpt / p.chips
    return TrainEstimate(
        step_s=step, tokens_per_s=tokens / step,
        mfu=flops / step / (p.chips * chip.bf16_tflops * 1e12),
        compute_s=compute, tp_s=tp_s, dp_s=dp_s, ep_s=ep_s, p2p_s=p2p_s, bubble=bubble,
        flops_per_step=flops, hbm=hbm, fits=hbm.total <= chip.hbm_bytes,
        intra_bytes_per_step=(tp_n * tp_one.intra_bytes + ep_n * ep_one.intra_bytes
                              + p2p_n * p2p_one.intra_bytes + dp_one.intra_bytes),
        ring_bytes_per_step=(tp_n * tp_one.ring_bytes + ep_n * ep_one.ring_bytes
                             + p2p_n * p2p_one.ring_bytes + dp_one.ring_bytes),
        efa_bytes_per_step=(tp_n * tp_one.efa_bytes + ep_n * ep_one.efa_bytes
                            + p2p_n * p2p_one.efa_bytes + dp_one.efa_bytes),
        checkpoint_bytes=ckpt,
        checkpoint_pause_s=ckpt_chip / DEVICE_TO_HOST_BW_PER_CHIP,
        checkpoint_write_s=ckpt_chip * p.instance.chips / STORAGE_WRITE_BW_PER_NODE,
    )


@dataclass(frozen=True, slots=True)
class ServeEstimate:
    ttft_s: float
    itl_s: float
    tokens_per_s: float  # output tokens per second, all replicas
    mfu: float
    hbm: Hbm
    fits: bool
    batch: int
    replicas: int
    decode_memory_s: float
    decode_compute_s: float
    decode_collective_s: float
    decode_intra_bytes_per_s: float  # per chip, NeuronLink traffic of the TP all-reduces
    decode_ring_bytes_per_s: float
    decode_efa_bytes_per_s: float
    kv_bytes_per_chip: float  # allocated at load: batch x max-sequence bucket


def kv_bytes_per_token_chip(arch: ModelArch, p: Placement) -> float:
    """KV bytes one chip stores per token. With tp above the KV heads each rank keeps a
    replica of one head (NxD's kv replication), so replication multiplies the cache."""
    heads_per_rank = max(1.0, arch.kv_heads / p.tp)
    ranks_here = min(p.ranks_per_chip, p.tp)
    return 2.0 * arch.layers * arch.head_dim * 2.0 * heads_per_rank * ranks_here


def serve(arch: ModelArch, p: Placement, *, dtype: Dtype = "bf16", batch: int = 1,
          input_len: int = 1024, output_len: int = 256,
          prefill_bucket: int | None = None, decode_bucket: int | None = None) -> ServeEstimate:
    """Latency of one tp-sharded replica serving a static batch (NxD Inference).

    Buckets default to powers of two; a deployment compiled with its own buckets (the
    tutorials' `--context-encoding-buckets` / `--token-generation-buckets`) passes them.
    """
    if batch < 1 or input_len < 1 or output_len < 1:
        raise PerfError("--batch, --input-len and --output-len must be at least 1")
    chip, itype, st = p.instance.chip_spec, p.instance, STACKS[p.instance.chip]
    chips = p.tp_chips
    replicas = max(1, p.chips // chips)
    weights = arch.params * DTYPE_BYTES[dtype] / chips
    kv_tok = kv_bytes_per_token_chip(arch, p)
    max_bucket = decode_bucket or bucket(input_len + output_len)
    kv_alloc = batch * max_bucket * kv_tok
    code, scratch, runtime = _overheads(chip)
    hbm = Hbm(tensors=kv_alloc, constants=weights, model_code=code, scratchpad=scratch,
              runtime=runtime)
    bw = chip.hbm_bandwidth * st.hbm_efficiency
    peak = peak_flops(chip, "bf16")
    eta = matmul_efficiency(st.prefill_peak_efficiency, arch, p.tp)
    # Decode at the median position of the output, in its bucket.
    ctx = decode_bucket or min(bucket(input_len + output_len // 2), max_bucket)
    if arch.moe:  # experts a batch touches per layer
        touched = min(arch.experts, batch * arch.active_experts) / arch.experts
        read = (arch.params - arch.expert_params_total * (1 - touched)) * DTYPE_BYTES[dtype]
        read /= chips
    else:
        read = weights
    t_mem = read / bw + batch * kv_tok * ctx / bw * st.kv_read_penalty
    dec_flops = batch * (2.0 * arch.active_params + 4.0 * arch.layers * ctx * arch.hidden)
    t_comp = dec_flops / chips / (peak * eta)
    ar = (collective(Collective.ALL_REDUCE, batch * arch.hidden * 2.0, itype, p.tp_span)
          if chips > 1 else CollectiveCost(0, 0, 0, 0))
    n_ar = 2.0 * arch.layers
    itl = max(t_mem, t_comp) + n_ar * ar.seconds + st.step_floor_s
    # Prefill (context encoding) of the input bucket.
    s = prefill_bucket or bucket(input_len)
    pre_flops = batch * (2.0 * arch.active_params * s + 2.0 * arch.layers * s * s * arch.hidden)
    t_pre = pre_flops / chips / (peak * eta)
    ar_pre = (collective(Collective.ALL_REDUCE, batch * s * arch.hidden * 2.0, itype,
                         p.tp_span) if chips > 1 else CollectiveCost(0, 0, 0, 0))
    ttft = max(t_pre, weights / bw) + n_ar * ar_pre.seconds + st.step_floor_s + st.cte_overhead_s
    per_request = ttft + output_len * itl
    tokens_per_s = replicas * batch * output_len / per_request
    useful = 2.0 * arch.active_params * (input_len + output_len) * batch * replicas
    return ServeEstimate(
        ttft_s=ttft, itl_s=itl, tokens_per_s=tokens_per_s,
        mfu=useful / per_request / (p.chips * chip.bf16_tflops * 1e12),
        hbm=hbm, fits=hbm.total <= chip.hbm_bytes, batch=batch, replicas=replicas,
        decode_memory_s=t_mem, decode_compute_s=t_comp, decode_collective_s=n_ar * ar.seconds,
        decode_intra_bytes_per_s=n_ar * ar.intra_bytes / itl,
        decode_ring_bytes_per_s=n_ar * ar.ring_bytes / itl,
        decode_efa_bytes_per_s=n_ar * ar.efa_bytes / itl,
        kv_bytes_per_chip=kv_alloc,
    )
