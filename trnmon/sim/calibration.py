"""Published measurements and what the performance rules make of them (`trnmon calibrate`).

`CALIBRATION_ROWS` are the rows of `shared/reference/calibration.md` that the rules cover;
the fitted coefficients of trnmon/sim/perf.py were chosen on them. `HELD_OUT_ROWS` are the
other rows of the same published CSVs (aws-neuron/aws-neuron-sdk at 81ce03ae) for models
in the catalog; no coefficient was fitted on them, so their error is the honest measure
of how far the rules extrapolate. Rows the rules do not cover are listed with the reason.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from trnmon.hw.catalog import INSTANCE_TYPE_BY_NAME
from trnmon.hw.models import model_arch
from trnmon.sim import perf
from trnmon.sim.placement import Dtype, make_placement

TOLERANCE = 0.15
SDK = "aws-neuron/aws-neuron-sdk@81ce03ae "
TRN1_CSV = SDK + "about-neuron/benchmarks/trn1/latency_data_decoder.csv"
INF2_CSV = SDK + "about-neuron/benchmarks/inf2/latency_data_decoder.csv"
TRAIN_CSV = SDK + "about-neuron/benchmarks/trn1/training_data_decoder.csv"
NLP_CSV = SDK + "about-neuron/benchmarks/trn1/trn1_trn1n_nlp_data.csv"
TUTORIALS = SDK + "libraries/nxd-inference/tutorials/"


@dataclass(frozen=True, slots=True)
class Serving:
    """An inference row: batch 1 unless stated, latency at p50."""

    model: str
    instance: str
    tp: int
    dtype: Dtype
    input_len: int
    output_len: int
    ttft_s: float
    itl_s: float
    prefill_bucket: int | None = None
    decode_bucket: int | None = None


@dataclass(frozen=True, slots=True)
class Training:
    model: str
    nodes: int
    tp: int
    pp: int
    dp: int
    seq_len: int
    tokens_per_s: float
    mfu: float | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    source: str
    case: Serving | Training
    note: str = ""


@dataclass(frozen=True, slots=True)
class Result:
    id: str
    metric: str
    published: float
    emulated: float
    source: str
    held_out: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.emulated / self.published

    @property
    def within(self) -> bool:
        return abs(self.ratio - 1.0) <= TOLERANCE

    def line(self) -> dict[str, Any]:
        out: dict[str, Any] = {"calibrate": self.id, "metric": self.metric,
                               "published": self.published,
                               "emulated": round(self.emulated, 6),
                               "ratio": round(self.ratio, 4), "source": self.source}
        if self.held_out:
            out["held_out"] = True
        out.update(self.extra)
        return out


def _n(tut: str) -> str:
    return TUTORIALS + tut + ", scenario 1"


CALIBRATION_ROWS: tuple[Row, ...] = (
    # The tutorials compile context-encoding buckets 2048 4096 8192 12288 (70B) or
    # 2048 4096 10240 12288 (405B) and token generation at 12800; 10,000 tokens use 12288
    # and 10240.
    Row("N1", _n("trn2-llama3.3-70b-tutorial.rst"),
        Serving("llama3.3-70b", "trn2.48xlarge", 64, "bf16", 10000, 1500, 0.8142, 0.01966,
                prefill_bucket=12288, decode_bucket=12800)),
    Row("N3", _n("trn2-llama3.1-405b-speculative-tutorial.rst"),
        Serving("llama3.1-405b", "trn2.48xlarge", 64, "bf16", 10000, 1785, 2.442, 0.03793,
                prefill_bucket=10240, decode_bucket=12800)),
    Row("F1", INF2_CSV, Serving("llama3-8b", "inf2.48xlarge", 24, "int8", 128, 8064,
                                0.02947, 0.00741)),
    Row("F6", INF2_CSV, Serving("llama3-70b", "inf2.48xlarge", 24, "bf16", 128, 128,
                                0.07781, 0.0322)),
    Row("R2", TRN1_CSV, Serving("llama3-8b", "trn1.32xlarge", 32, "int8", 128, 3968,
                                0.01475, 0.00586)),
    Row("R4", TRN1_CSV, Serving("llama3-70b", "trn1.32xlarge", 32, "bf16", 128, 128,
                                0.05253, 0.02648)),
    Row("R6", TRN1_CSV, Serving("llama2-70b", "trn1.32xlarge", 32, "bf16", 2048, 2048,
                                0.69096, 0.02685)),
    Row("T1", TRAIN_CSV + " (SDK 2.24)",
        Training("llama3.1-8b", 32, 32, 1, 32, 8192, 392806.0)),
    Row("T2", TRAIN_CSV + " (SDK 2.24)",
        Training("llama3.1-70b", 32, 32, 8, 4, 8192, 65044.0)),
    Row("T10", TRAIN_CSV + " (SDK 2.21, commit 752349f)",
        Training("llama2-70b", 32, 32, 8, 4, 4096, 59146.0)),
    Row("T15", TRAIN_CSV + " (SDK 2.18, commit 8907253); MFU: " + NLP_CSV + " (SDK 2.13)",
        Training("gpt3-175b", 32, 32, 8, 4, 2048, 29901.0, mfu=0.3314,
                 note="published MFU was measured at 12.7 seq/s (SDK 2.13), the "
                      "throughput at 14.60 seq/s (SDK 2.18)")),
)

# Not covered, with the reason (README "Calibration").
NOT_COVERED: tuple[tuple[str, str], ...] = (
    ("N2", "speculative decoding (Llama-3.2-1B draft) is not modelled"),
    ("H1", "an input of the rules (EFA step latency, trnmon/sim/comm.py), not an outcome"),
    ("H3", "an input of the rules (NeuronLink hop latency), not an outcome"),
    ("H4", "an input of the rules (EFA share per chip), not an outcome"),
    ("H8", "nccom-test example without the instance or the ranks' chips; its 300 us floor "
           "for 4 bytes includes the tool's launch, which in-graph collectives do not pay"),
    ("H11", "the synchronous host gap is below the fitted per-step floor of the stacks, "
            "which also holds vLLM's scheduling and streaming"),
    ("K2", "loading weights from storage is not modelled"),
)


def _results(row: Row, *, held_out: bool) -> list[Result]:
    case = row.case
    if isinstance(case, Serving):
        itype = INSTANCE_TYPE_BY_NAME[case.instance]
        est = perf.serve(model_arch(case.model), make_placement(itype, tp=case.tp),
                         dtype=case.dtype, input_len=case.input_len,
                         output_len=case.output_len, prefill_bucket=case.prefill_bucket,
                         decode_bucket=case.decode_bucket)
        return [Result(row.id, "ttft_s", case.ttft_s, est.ttft_s, row.source, held_out),
                Result(row.id, "itl_s", case.itl_s, est.itl_s, row.source, held_out)]
    itype = INSTANCE_TYPE_BY_NAME["trn1.32xlarge"]
    place = make_placement(itype, nodes=case.nodes, tp=case.tp, pp=case.pp, dp=case.dp)
    tr = perf.train(model_arch(case.model), place, seq_len=case.seq_len, global_batch=1024)
    out = [Result(row.id, "tokens_per_s", case.tokens_per_s, tr.tokens_per_s, row.source,
                  held_out)]
    if case.mfu is not None:
        out.append(Result(row.id, "mfu", case.mfu, tr.mfu, row.source, held_out,
                          {"note": case.note} if case.note else {}))
    return out


def calibration_results() -> list[Result]:
    """Every covered row of calibration.md, estimated with the rules."""
    return [r for row in CALIBRATION_ROWS for r in _results(row, held_out=False)]


def held_out_results() -> list[Result]:
    """The other published rows (no coefficient fitted on them)."""
    from_rows: list[Result] = []
    for row in HELD_OUT_ROWS:
        from_rows.extend(_results(row, held_out=True))
    return from_rows


def summary(results: list[Result], label: str = "summary") -> dict[str, Any]:
    errors = [abs(r.ratio - 1.0) for r in results]
    return {"calibrate": label, "rows": len(results),
            "within_15pct": sum(r.within for r in results),
            "median_abs_error": round(statistics.median(errors), 4) if errors else 0.0}


def _csv_rows() -> tuple[Row, ...]:
    """Held-out rows: (model, instance, tp, dtype, input, output, TTFT ms, TPOT ms)."""
    table = (
        (TRN1_CSV, "trn1.32xlarge", 32, (
            ("llama3-8b", "int8", 128, 8064, 17.09, 7.03),
            ("llama3-8b", "int8", 4096, 4096, 153.02, 7.04),
            ("llama3-70b", "bf16", 2048, 2048, 547.0, 26.2),
            ("llama3-70b", "bf16", 128, 1024, 53.2, 24.48),
            ("llama2-7b", "bf16", 128, 8064, 13.324, 6.700),
            ("llama2-13b", "bf16", 4096, 4096, 864.14, 9.844),
            ("llama2-13b", "bf16", 8192, 8192, 2367.93, 13.408),
            ("llama2-70b", "bf16", 128, 128, 53.910, 25.181),
            ("llama2-70b", "bf16", 256, 256, 81.882, 25.267),
            ("llama2-70b", "bf16", 128, 1024, 57.752, 25.449),
            ("llama2-70b", "bf16", 1024, 1024, 232.480, 26.038),
            ("llama2-70b", "bf16", 1024, 2048, 236.782, 26.625),
            ("mistral-7b", "bf16", 8192, 8192, 1322.87, 9.892),
        )),
        (INF2_CSV, "inf2.48xlarge", 24, (
            ("llama3-8b", "int8", 4096, 4096, 209.37, 7.47),
            ("llama3-8b", "int8", 128, 3968, 25.0, 6.42),
            ("llama3-8b", "int8", 2048, 2048, 101.81, 6.5),
            ("llama3-70b", "bf16", 2048, 2048, 745.49, 34.67),
            ("llama3-70b", "bf16", 1024, 2048, 312.86, 33.81),
            ("llama3-70b", "bf16", 1024, 1024, 310.18, 33.14),
            ("llama3-70b", "bf16", 128, 1024, 80.0, 32.47),
            ("llama3-70b", "bf16", 256, 256, 99.37, 32.48),
            ("llama2-7b", "bf16", 128, 3968, 27.638, 6.470),
            ("llama2-7b", "bf16", 128, 8064, 29.210, 7.340),
            ("llama2-13b", "bf16", 128, 3968, 25.851, 9.166),
            ("llama2-13b", "bf16", 4096, 4096, 333.780, 10.174),
            ("llama2-13b", "bf16", 8192, 8192, 994.180, 13.498),
            ("llama2-70b", "bf16", 128, 128, 76.595, 32.896),
            ("llama2-70b", "bf16", 256, 256, 96.440, 33.134),
            ("llama2-70b", "bf16", 128, 1024, 76.330, 33.151),
            ("llama2-70b", "bf16", 1024, 1024, 277.016, 33.732),
            ("llama2-70b", "bf16", 1024, 2048, 275.966, 34.819),
            ("llama2-70b", "bf16", 2048, 2048, 810.437, 34.903),
            ("mistral-7b", "bf16", 128, 3968, 27.342, 6.862),
            ("mistral-7b", "bf16", 4096, 4096, 557.963, 7.866),
            ("mistral-7b", "bf16", 8192, 8192, 539.591, 10.330),
        )),
    )
    rows: list[Row] = []
    for source, instance, tp, cases in table:
        prefix = "R" if instance.startswith("trn1") else "F"
        for i, (model, dtype, inp, out, ttft, tpot) in enumerate(cases, start=1):
            rows.append(Row(f"{prefix}x{i}", source, Serving(
                model, instance, tp, dtype, inp, out, ttft / 1e3, tpot / 1e3)))  # type: ignore[arg-type]
    return tuple(rows)


HELD_OUT_ROWS: tuple[Row, ...] = _csv_rows()


def markdown_table(results: list[Result]) -> str:
    """The README's calibration table (tests/perf/test_calibration.py keeps them equal)."""
    out = ["| id | metric | published | emulated | ratio |", "|---|---|---|---|---|"]
    for r in results:
        out.append(f"| {r.id} | {r.metric} | {r.published:.6g} | {r.emulated:.6g} | "
                   f"{r.ratio:.3f} |")
    return "\n".join(out)
