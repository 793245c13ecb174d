"""Costing an emulated job with the performance rulebook (trnmon/sim/perf.py).

The emulated fleet and `trnmon estimate` share one set of rules: the scheduler places a job
on whole nodes, this module turns the job's request (instance family, chips, tensor and
pipeline degrees, model, lengths) into a `Placement` and asks `perf.train` or `perf.serve`.

Job specs give the tensor-parallel degree in chips (the emulator's placement unit); the
rules count NeuronCore ranks as Neuron does, so a spec's `tp` chips become tp x ranks per
chip ranks (at the fleet's LNC on Trn2).
"""

from __future__ import annotations

from dataclasses import dataclass

from trnmon.hw.catalog import INSTANCE_TYPE_BY_NAME, InstanceType
from trnmon.hw.lnc import core_numbering
from trnmon.hw.models import model_arch
from trnmon.sim import perf
from trnmon.sim.placement import Placement

INSTANCE_OF_FAMILY: dict[str, str] = {"trn2": "trn2.48xlarge", "trn1": "trn1.32xlarge",
                                      "inf2": "inf2.48xlarge"}
# Static batch a serving deployment compiles when the spec does not give one (placeholder:
# the NxD tutorials serve batch 1-4 online; offline batch jobs compile larger buckets).
DEFAULT_ONLINE_BATCH = 4
DEFAULT_OFFLINE_BATCH = 64


@dataclass(frozen=True, slots=True)
class JobShape:
    """What a job asks for, in the emulator's units."""

    model: str
    family: str  # "trn2" | "trn1" | "inf2"
    chips: int  # chips the job holds (whole nodes)
    tp_chips: int
    pp: int
    ultraserver_ring: bool
    lnc: int = 2


def instance_for(family: str, ultraserver_ring: bool) -> InstanceType:
    if family == "trn2" and ultraserver_ring:
        return INSTANCE_TYPE_BY_NAME["trn2u.48xlarge"]
    return INSTANCE_TYPE_BY_NAME[INSTANCE_OF_FAMILY[family]]


def placement(shape: JobShape) -> Placement:
    """The rules' placement of a job: tp clamped to its chips, pp to what is left, and the
    data-parallel degree from the rest (chips the degrees cannot use stay idle)."""
    itype = instance_for(shape.family, shape.ultraserver_ring)
    lnc = shape.lnc if itype.chip_spec.supports_lnc else 1
    per_chip = core_numbering(itype.chip_spec, lnc).logical_per_chip
    chips = max(shape.chips, 1)
    tp_chips = max(1, min(shape.tp_chips, chips))
    pp = max(1, min(shape.pp, chips // tp_chips))
    dp = max(1, chips // (tp_chips * pp))
    nodes = max(1, -(-tp_chips * pp * dp // itype.chips))
    return Placement(itype, nodes, lnc, tp_chips * per_chip, pp, dp, 1,
                     shape.ultraserver_ring and nodes > 1)


def train(shape: JobShape, *, seq_len: int, global_batch: int) -> perf.TrainEstimate:
    """A training job's step on its placement (bf16, 1F1B, ZeRO-1, async checkpoints)."""
    p = placement(shape)
    return perf.train(model_arch(shape.model), p, seq_len=seq_len,
                      global_batch=max(global_batch, p.dp))


def serve(shape: JobShape, *, batch: int, input_len: int,
          output_len: int) -> perf.ServeEstimate:
    """One replica of a serving job at its compiled static batch (bf16 weights); a batch
    that does not fit beside the weights is halved until it does, as a deployment would."""
    p = placement(shape)
    arch = model_arch(shape.model)
    b = max(1, batch)
    est = perf.serve(arch, p, batch=b, input_len=input_len, output_len=output_len)
    while not est.fits and b > 1:
        b //= 2
        est = perf.serve(arch, p, batch=b, input_len=input_len, output_len=output_len)
    return est
