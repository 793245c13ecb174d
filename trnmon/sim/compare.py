"""Price-performance search: which instance type, node count and parallelism a workload
should run on, and what it costs there (`trnmon estimate --compare`).

Every candidate is costed with the rules `trnmon estimate` uses (trnmon/sim/perf.py on a
trnmon/sim/placement.py placement) and priced with the fleet's resolved rates
(trnmon/sim/cost.py). Goodput follows the fleet's configured failure rates (the fault
taxonomy, trnmon/sim/taxonomy.py, times `faults.rate_multiplier`) and the emulated jobs'
recovery (trnmon/sim/rules.py: the collective watchdog, the checkpoint reload):

- training: a job of `chips` chips is interrupted at lambda = chips x the taxonomy's
  per-chip rate. Each interruption loses, on average, half a checkpoint interval of work
  plus the time to notice (the watchdog, for hangs) and to reload. Checkpoints pause the
  job `checkpoint_pause_s` every interval. The expected wall time is then (Young/Daly,
  first order) T x (1 + pause / C) / (1 - lambda x (C / 2 + detect + reload)), with T the
  failure-free time; a job that fails faster than it progresses never finishes;
- serving: a node that fails serves nothing until it is replaced and reloaded, so holding
  the request rate needs 1 + lambda_node x (detect + reload) times the nodes.

Spare capacity is assumed: a restarted job does not wait in a queue.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from trnmon.config.model import FleetConfig
from trnmon.hw.catalog import GIB, ChipKind, InstanceType
from trnmon.hw.lnc import core_numbering
from trnmon.hw.models import ModelArch
from trnmon.sim import perf
from trnmon.sim.cost import SECONDS_PER_HOUR, Rate, job_cost, tokens_per_dollar
from trnmon.sim.placement import Dtype, PerfError, make_placement
from trnmon.sim.rules import HANG_WATCHDOG_S, LOAD_S
from trnmon.sim.taxonomy import CAUSES, Effect

DEFAULT_NODES: tuple[int, ...] = (8, 16, 32, 64)
PP_DEGREES: tuple[int, ...] = (1, 2, 4, 8)
EP_DEGREES: tuple[int, ...] = (1, 2, 4, 8)  # mixture-of-experts models only
SERVE_BATCHES: tuple[int, ...] = (1, 4, 16, 64)


@dataclass(frozen=True, slots=True)
class FailureModel:
    """The fleet's interruption rate and the cost of each interruption."""

    rate_per_chip_s: float  # job interruptions per chip-second, all causes
    detect_s: float  # mean time until the failure is noticed (hangs wait for the watchdog)
    reload_s: float  # loading the last checkpoint (or the weights) on the new nodes
    checkpoint_interval_s: float

    @classmethod
    def from_config(cls, cfg: FleetConfig) -> FailureModel:
        mult = cfg.faults.rate_multiplier if cfg.faults.enabled else 0.0
        total = sum(c.rate_per_chip_second for c in CAUSES)
        hang = sum(c.rate_per_chip_second for c in CAUSES if c.effect == Effect.HANG_TIMEOUT)
        return cls(rate_per_chip_s=mult * total,
                   detect_s=HANG_WATCHDOG_S * hang / total if total else 0.0,
                   reload_s=LOAD_S,
                   checkpoint_interval_s=cfg.workload.checkpoint_interval_s)

    @property
    def loss_per_interruption_s(self) -> float:
        return self.checkpoint_interval_s / 2.0 + self.detect_s + self.reload_s

    def train_wall_s(self, chips: int, failure_free_s: float,
                     checkpoint_pause_s: float) -> float | None:
        """Expected wall time of a training job; None if it never finishes."""
        lam = chips * self.rate_per_chip_s
        denom = 1.0 - lam * self.loss_per_interruption_s
        if denom <= 0:
            return None
        return failure_free_s * (1.0 + checkpoint_pause_s / self.checkpoint_interval_s) / denom

    def serve_overprovision(self, chips_per_node: int) -> float:
        """Nodes needed per node of demand, to cover the ones being replaced."""
        return 1.0 + chips_per_node * self.rate_per_chip_s * (self.detect_s + self.reload_s)


@dataclass(slots=True)
class Candidate:
    """One configuration and what it costs; `reason` is set when it cannot run."""

    instance_type: str
    nodes: int
    tp: int
    pp: int
    dp: int
    fits: bool
    reason: str | None = None
    ep: int = 1
    time_s: float = 0.0  # training: failure-free wall time; serving: one request's latency
    tokens_per_s: float = 0.0
    mfu: float = 0.0
    price_per_hour: float = 0.0
    price_placeholder: bool = False
    currency: str = "USD"  # of every amount (the fleet's `pricing.currency`)
    cost_dollars: float = 0.0
    tokens_per_dollar: float = 0.0
    goodput: float = 0.0  # failure-free time / expected time (serving: 1 / overprovision)
    goodput_time_s: float | None = None
    goodput_cost_dollars: float | None = None
    goodput_tokens_per_dollar: float = 0.0
    hbm_bytes_per_chip: int = 0
    extra: dict[str, float | int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        extra = out.pop("extra")
        for key in ("time_s", "tokens_per_s", "cost_dollars", "tokens_per_dollar",
                    "goodput_time_s", "goodput_cost_dollars", "goodput_tokens_per_dollar"):
            if out[key] is not None:
                out[key] = round(out[key], 6)
        out["mfu"] = round(out["mfu"], 4)
        out["goodput"] = round(out["goodput"], 6)
        out.update(extra)
        return out


def _ranks_per_chip(itype: InstanceType, lnc: int) -> int:
    return core_numbering(itype.chip_spec, lnc if itype.chip_spec.supports_lnc else 1
                          ).logical_per_chip


def _tp_chip_options(itype: InstanceType) -> list[int]:
    return [d for d in range(1, itype.chips + 1) if itype.chips % d == 0]


def order(cands: list[Candidate]) -> list[Candidate]:
    """Runnable candidates by cost, cheapest first, then the others (by type and size)."""
    ok = sorted((c for c in cands if c.fits),
                key=lambda c: (c.cost_dollars, c.instance_type, c.nodes, c.tp, c.pp))
    bad = [c for c in cands if not c.fits]
    return ok + bad


def compare_train(arch: ModelArch, types: list[InstanceType], rates: dict[str, Rate],
                  fail: FailureModel, *, train_tokens: float, nodes: tuple[int, ...],
                  lnc: int, seq_len: int, global_batch: int,
                  dtype: Dtype = "bf16") -> list[Candidate]:
    """Every (type, nodes, tp, pp[, ep for MoE]) training configuration, costed; see
    `order`."""
    out: list[Candidate] = []
    for itype in types:
        rate = rates[itype.name]
        if itype.chip_spec.kind == ChipKind.INFERENTIA2:
            out.append(Candidate(itype.name, 0, 0, 0, 0, False,
                                 "Inferentia2 serves only: Neuron trains on Trainium",
                                 currency=rate.currency))
            continue
        per_chip = _ranks_per_chip(itype, lnc)
        for n in nodes:
            for tp_chips in _tp_chip_options(itype):
                for pp in PP_DEGREES:
                    for ep in (EP_DEGREES if arch.moe else (1,)):
                        c = _train_one(arch, itype, rate, fail, n, tp_chips * per_chip, pp,
                                       ep, lnc=lnc, seq_len=seq_len,
                                       global_batch=global_batch, dtype=dtype,
                                       train_tokens=train_tokens)
                        if c is not None:
                            out.append(c)
    return order(out)


def _train_one(arch: ModelArch, itype: InstanceType, rate: Rate, fail: FailureModel,
               nodes: int, tp: int, pp: int, ep: int, *, lnc: int, seq_len: int,
               global_batch: int, dtype: Dtype, train_tokens: float) -> Candidate | None:
    """One training configuration, costed; None when `ep` does not divide its dp (not a
    configuration at all, so not listed)."""
    c = Candidate(itype.name, nodes, tp, pp, 0, False, ep=ep, price_per_hour=rate.per_hour,
                  price_placeholder=rate.placeholder, currency=rate.currency)
    try:
        place = make_placement(itype, nodes=nodes, lnc=lnc, tp=tp, pp=pp)
        c.dp = place.dp
        if place.dp % ep:
            return None
        if ep > 1:
            place = make_placement(itype, nodes=nodes, lnc=lnc, tp=tp, pp=pp, ep=ep)
        est = perf.train(arch, place, dtype=dtype, seq_len=seq_len, global_batch=global_batch)
    except PerfError as exc:
        c.reason = str(exc)
        return c
    _price_train(c, est, place.chips, itype.chip_spec.hbm_bytes, rate, fail, train_tokens,
                 global_batch * seq_len)
    return c


def _no_fit(need: float, have: int, what: str = "") -> str:
    return (f"does not fit in HBM: needs {need / GIB:.1f} GiB per chip{what}, "
            f"the chip has {have / GIB:.0f} GiB")


def _price_train(c: Candidate, est: perf.TrainEstimate, chips: int, chip_hbm: int,
                 rate: Rate, fail: FailureModel, train_tokens: float,
                 tokens_per_step: int) -> None:
    c.hbm_bytes_per_chip = int(est.hbm.total)
    c.tokens_per_s, c.mfu = est.tokens_per_s, est.mfu
    steps = math.ceil(train_tokens / tokens_per_step)
    c.time_s = steps * est.step_s
    c.extra = {"steps": steps, "step_s": round(est.step_s, 6),
               "checkpoint_pause_s": round(est.checkpoint_pause_s, 6)}
    if not est.fits:
        c.reason = _no_fit(est.hbm.total, chip_hbm)
        return
    c.fits = True
    c.cost_dollars = job_cost(c.nodes, rate.per_hour, c.time_s)
    c.tokens_per_dollar = tokens_per_dollar(train_tokens, c.cost_dollars)
    wall = fail.train_wall_s(chips, c.time_s, est.checkpoint_pause_s)
    c.extra["interruptions"] = round(
        chips * fail.rate_per_chip_s * (wall if wall is not None else c.time_s), 3)
    if wall is None:
        c.goodput = 0.0
        return
    c.goodput = c.time_s / wall
    c.goodput_time_s = wall
    c.goodput_cost_dollars = job_cost(c.nodes, rate.per_hour, wall)
    c.goodput_tokens_per_dollar = tokens_per_dollar(train_tokens, c.goodput_cost_dollars)


def compare_serve(arch: ModelArch, types: list[InstanceType], rates: dict[str, Rate],
                  fail: FailureModel, *, rate_rps: float, input_len: int, output_len: int,
                  lnc: int, hours: float, batches: tuple[int, ...] = SERVE_BATCHES,
                  dtype: Dtype = "bf16",
                  max_latency_s: float | None = None) -> list[Candidate]:
    """Every (type, tp, batch) deployment sized to serve `rate_rps` requests per second
    for `hours`; `time_s` is one request's latency (TTFT + output x ITL). Deployments
    slower than `max_latency_s` are listed as not meeting it."""
    out: list[Candidate] = []
    for itype in types:
        rate = rates[itype.name]
        per_chip = _ranks_per_chip(itype, lnc)
        for tp_chips in _tp_chip_options(itype):
            for batch in batches:
                tp = tp_chips * per_chip
                c = Candidate(itype.name, 0, tp, 1, 0, False, price_per_hour=rate.per_hour,
                              price_placeholder=rate.placeholder, currency=rate.currency)
                out.append(c)
                try:
                    place = make_placement(itype, nodes=1, lnc=lnc, tp=tp)
                    est = perf.serve(arch, place, dtype=dtype, batch=batch,
                                     input_len=input_len, output_len=output_len)
                except PerfError as exc:
                    c.reason = str(exc)
                    continue
                _price_serve(c, est, itype, rate, fail, rate_rps, output_len, hours)
                if c.fits and max_latency_s is not None and c.time_s > max_latency_s:
                    c.fits = False
                    c.reason = (f"slower than --max-latency-s {max_latency_s:g}: "
                                f"{c.time_s:.2f} s per request")
    return order(out)


def _price_serve(c: Candidate, est: perf.ServeEstimate, itype: InstanceType, rate: Rate,
                 fail: FailureModel, rate_rps: float, output_len: int, hours: float) -> None:
    c.hbm_bytes_per_chip = int(est.hbm.total)
    latency = est.ttft_s + output_len * est.itl_s
    c.time_s = latency
    c.extra = {"batch": est.batch, "ttft_s": round(est.ttft_s, 6),
               "itl_s": round(est.itl_s, 6), "replicas_per_node": est.replicas}
    if not est.fits:
        c.reason = _no_fit(est.hbm.total, itype.chip_spec.hbm_bytes, f" at batch {est.batch}")
        return
    node_rps = est.replicas * est.batch / latency
    c.nodes = max(1, math.ceil(rate_rps / node_rps))
    c.dp = c.nodes * est.replicas
    c.fits = True
    seconds = hours * SECONDS_PER_HOUR
    c.tokens_per_s = rate_rps * output_len
    c.mfu = est.mfu * rate_rps / (c.nodes * node_rps)
    c.cost_dollars = job_cost(c.nodes, rate.per_hour, seconds)
    c.tokens_per_dollar = tokens_per_dollar(c.tokens_per_s * seconds, c.cost_dollars)
    over = fail.serve_overprovision(itype.chips)
    c.goodput = 1.0 / over
    c.goodput_time_s = seconds
    c.goodput_cost_dollars = c.cost_dollars * over
    c.goodput_tokens_per_dollar = tokens_per_dollar(c.tokens_per_s * seconds,
                                                    c.goodput_cost_dollars)
