"""`trnmon estimate`: the emulator's performance rules as a what-if tool.

    trnmon estimate --model NAME --instance TYPE [--nodes N] [--tp N] [--pp N] [--dp N]
        [--lnc 1|2] [--dtype bf16|fp8|int8]
        (--train [--seq-len L] [--global-batch B] | --serve [--batch B] [--input-len I]
         [--output-len O]) [--json]

`--tp` counts NeuronCore ranks as Neuron does (logical cores on Trn2, physical on
Trn1/Inf2); `--dtype` is the weights' type. A configuration that does not fit in HBM is
refused with one line on stderr (exit 1; with `--json` the estimate is printed too).

`trnmon estimate --compare` ranks configurations by cost instead (trnmon/cli/compare.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trnmon.cli import compare
from trnmon.cli.args import SubParsers
from trnmon.errors import TrnmonError
from trnmon.hw.catalog import GIB, INSTANCE_TYPE_BY_NAME
from trnmon.hw.models import MODEL_ARCH_BY_NAME, ModelArch, model_arch
from trnmon.sim import perf
from trnmon.sim.placement import Placement, make_placement

EXIT_DOES_NOT_FIT = 1


def _positive(flag: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise TrnmonError(f"{flag} must be at least 1, got {value}")


def _resolve(args: argparse.Namespace) -> tuple[ModelArch, Placement]:
    try:
        arch = model_arch(args.model)
    except KeyError:
        raise TrnmonError(f"unknown model {args.model!r}; known: "
                          f"{', '.join(MODEL_ARCH_BY_NAME)}") from None
    itype = INSTANCE_TYPE_BY_NAME.get(args.instance)
    if itype is None:
        raise TrnmonError(f"unknown instance type {args.instance!r}; known: "
                          f"{', '.join(INSTANCE_TYPE_BY_NAME)}")
    for flag in ("nodes", "tp", "pp", "dp", "ep", "seq_len", "global_batch", "batch",
                 "input_len", "output_len"):
        _positive("--" + flag.replace("_", "-"), getattr(args, flag))
    place = make_placement(itype, nodes=args.nodes, lnc=args.lnc, tp=args.tp, pp=args.pp,
                           dp=args.dp, ep=args.ep)
    return arch, place


def estimate(args: argparse.Namespace) -> dict[str, Any]:
    """The JSON object `trnmon estimate` prints (see the module docstring)."""
    arch, place = _resolve(args)
    if args.train:
        t = perf.train(arch, place, dtype=args.dtype, seq_len=args.seq_len,
                       global_batch=args.global_batch)
        return {"estimate": "train", "step_s": round(t.step_s, 6),
                "tokens_per_s": round(t.tokens_per_s, 3), "mfu": round(t.mfu, 4),
                "hbm_bytes_per_chip": int(t.hbm.total), "fits": t.fits,
                "chips": place.chips, "tp": place.tp, "pp": place.pp, "dp": place.dp,
                "compute_s": round(t.compute_s, 6), "bubble": round(t.bubble, 4),
                "checkpoint_pause_s": round(t.checkpoint_pause_s, 3)}
    s = perf.serve(arch, place, dtype=args.dtype, batch=args.batch,
                   input_len=args.input_len, output_len=args.output_len)
    return {"estimate": "serve", "ttft_s": round(s.ttft_s, 6), "itl_s": round(s.itl_s, 6),
            "tokens_per_s": round(s.tokens_per_s, 3),
            "hbm_bytes_per_chip": int(s.hbm.total), "fits": s.fits,
            "chips": place.chips, "tp": place.tp, "replicas": s.replicas,
            "mfu": round(s.mfu, 4)}


def _run(args: argparse.Namespace) -> int:
    if args.compare:
        return compare.run(args)
    # Required outside --compare (argparse cannot say "required unless").
    if args.instance is None:
        raise TrnmonError("the following arguments are required: --instance")
    if not (args.train or args.serve):
        raise TrnmonError("one of the arguments --train --serve is required")
    for flag in ("train_tokens", "rate", "instances", "preset", "config", "max_latency_s"):
        if getattr(args, flag) is not None:
            raise TrnmonError(f"--{flag.replace('_', '-')} needs --compare")
    out = estimate(args)
    if args.json:
        print(json.dumps(out))
    if not out["fits"]:
        hbm = INSTANCE_TYPE_BY_NAME[args.instance].chip_spec.hbm_bytes
        print(f"trnmon estimate: {args.model} does not fit: it needs "
              f"{out['hbm_bytes_per_chip'] / GIB:.1f} GiB of HBM per chip and "
              f"{args.instance} has {hbm / GIB:.0f} GiB; raise --tp/--pp or --nodes",
              file=sys.stderr)
        return EXIT_DOES_NOT_FIT
    if not args.json:
        print("  ".join(f"{k}={v}" for k, v in out.items()))
    return 0


def register(sub: SubParsers) -> None:
    p = sub.add_parser("estimate", help="what-if: training step or serving latency")
    p.add_argument("--model", required=True, help=f"one of {', '.join(MODEL_ARCH_BY_NAME)}")
    p.add_argument("--instance",
                   help=f"one of {', '.join(INSTANCE_TYPE_BY_NAME)}")
    p.add_argument("--nodes", type=int, default=1, help="instances (default 1)")
    p.add_argument("--tp", type=int, help="tensor-parallel NeuronCore ranks "
                   "(default: one instance)")
    p.add_argument("--pp", type=int, default=1, help="pipeline stages (default 1)")
    p.add_argument("--dp", type=int, help="data-parallel replicas (default: the rest)")
    p.add_argument("--ep", type=int, default=1, help="expert-parallel degree (MoE)")
    p.add_argument("--lnc", type=int, choices=(1, 2), default=2,
                   help="logical NeuronCore config on Trn2 (default 2)")
    p.add_argument("--dtype", choices=("bf16", "fp8", "int8"), default="bf16",
                   help="the weights' type (default bf16)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--train", action="store_true", help="one training step")
    mode.add_argument("--serve", action="store_true", help="serving one static batch")
    p.add_argument("--seq-len", type=int, default=8192, help="train: tokens per sequence")
    p.add_argument("--global-batch", type=int, default=1024,
                   help="train: sequences per optimizer step")
    p.add_argument("--batch", type=int, default=1, help="serve: static batch size")
    p.add_argument("--input-len", type=int, default=1024, help="serve: prompt tokens")
    p.add_argument("--output-len", type=int, default=256, help="serve: generated tokens")
    p.add_argument("--json", action="store_true", help="one JSON object")
    compare.add_compare_args(p)
    p.set_defaults(handler=_run)
