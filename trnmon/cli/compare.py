"""`trnmon estimate --compare`: rank instance types, node counts and parallelism by cost.

    trnmon estimate --compare --model NAME
        (--train-tokens N | --serve --rate REQ_PER_S --input-len I --output-len O)
        [--instances TYPE,...] [--node-counts N,...] [--hours H] [--max-latency-s S]
        [--top K]
        [--preset P | --config FILE] [--json]

Prices and failure rates come from the fleet configuration (`[pricing]`, `[faults]`,
`workload.checkpoint_interval_s`; default preset ohio). The table lists the cheapest
runnable configurations first and then every configuration that cannot run, with the
reason; `--json` prints one object per candidate, runnable ones ordered by `cost_dollars`.
The search itself is trnmon/sim/compare.py.
"""

from __future__ import annotations

import argparse
import json
import re

from trnmon.config import load_config
from trnmon.errors import TrnmonError
from trnmon.hw.catalog import GIB, INSTANCE_TYPE_BY_NAME, InstanceType
from trnmon.hw.models import MODEL_ARCH_BY_NAME, ModelArch, model_arch
from trnmon.sim import compare as cmp
from trnmon.sim.cost import resolve_rates

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_tokens(text: str) -> float:
    """`1e12`, `1T`, `500B`, `2.5M` or a plain integer: a positive token count."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgGtT]?)\s*", text)
    if not m or float(m.group(1)) * _SUFFIX[m.group(2).lower()] < 1:
        raise argparse.ArgumentTypeError(f"not a positive token count: {text!r} "
                                         "(e.g. 1e12 or 1T)")
    return float(m.group(1)) * _SUFFIX[m.group(2).lower()]


def parse_int_list(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: "
                                         f"{text!r}") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"node counts must be at least 1: {text!r}")
    return out


def lookup_model(name: str) -> ModelArch:
    """A catalog model by name, forgiving case and `Llama-3` for `llama3`."""
    for key in (name, name.lower(), re.sub(r"^llama-(\d)", r"llama\1", name.lower())):
        try:
            return model_arch(key)
        except KeyError:
            continue
    raise TrnmonError(f"unknown model {name!r}; known: {', '.join(MODEL_ARCH_BY_NAME)}")


def _types(spec: str | None) -> list[InstanceType]:
    if spec is None:
        return list(INSTANCE_TYPE_BY_NAME.values())
    out = []
    for name in (s.strip() for s in spec.split(",")):
        if name not in INSTANCE_TYPE_BY_NAME:
            raise TrnmonError(f"--instances: unknown instance type {name!r}; known: "
                              f"{', '.join(INSTANCE_TYPE_BY_NAME)}")
        out.append(INSTANCE_TYPE_BY_NAME[name])
    return out


def add_compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--compare", action="store_true",
                   help="rank instance types, node counts and parallelism by cost")
    p.add_argument("--train-tokens", type=parse_tokens, metavar="N",
                   help="compare: tokens to train on (1e12 or 1T)")
    p.add_argument("--rate", type=float, metavar="REQ_PER_S",
                   help="compare --serve: requests per second to serve")
    p.add_argument("--instances", metavar="TYPE,...",
                   help="compare: instance types (default: every emulated type)")
    p.add_argument("--node-counts", type=parse_int_list, default=cmp.DEFAULT_NODES,
                   metavar="N,...", help="compare --train-tokens: node counts "
                   f"(default {','.join(map(str, cmp.DEFAULT_NODES))})")
    p.add_argument("--hours", type=float, default=1.0,
                   help="compare --serve: hours of serving to price (default 1)")
    p.add_argument("--max-latency-s", type=float, metavar="S",
                   help="compare --serve: slowest acceptable request latency (TTFT + "
                   "output x ITL)")
    p.add_argument("--top", type=int, default=15,
                   help="compare: runnable rows the table shows (0: all; JSON has all)")
    p.add_argument("--preset", help="compare: the fleet whose prices and failure rates "
                   "apply (default ohio)")
    p.add_argument("--config", metavar="FILE", help="compare: TOML fleet configuration")


def _check(args: argparse.Namespace) -> None:
    if args.train:
        raise TrnmonError("--compare takes --train-tokens, not --train")
    if (args.train_tokens is None) == (not args.serve):
        raise TrnmonError("--compare needs exactly one of --train-tokens N or --serve")
    if args.serve and (args.rate is None or not args.rate > 0):
        raise TrnmonError("--compare --serve needs --rate REQ_PER_S above 0")
    if args.max_latency_s is not None and not (args.serve and args.max_latency_s > 0):
        raise TrnmonError("--max-latency-s needs --serve and a value above 0")
    if not args.hours > 0:
        raise TrnmonError(f"--hours must be above 0, got {args.hours}")
    if args.top < 0:
        raise TrnmonError(f"--top must be 0 or more, got {args.top}")
    if args.ep != 1:
        raise TrnmonError("--compare searches --ep itself (MoE models); leave it out")
    for flag in ("instance", "tp", "dp"):
        if getattr(args, flag) is not None:
            raise TrnmonError(f"--compare searches --{flag} itself; leave it out")


def candidates(args: argparse.Namespace) -> list[cmp.Candidate]:
    """The ranked candidates `trnmon estimate --compare` prints."""
    _check(args)
    arch = lookup_model(args.model)
    types = _types(args.instances)
    cfg = load_config(preset_name=args.preset, config_file=args.config)
    rates = resolve_rates(cfg.pricing, only=[t.name for t in types])
    fail = cmp.FailureModel.from_config(cfg)
    if args.serve:
        return cmp.compare_serve(arch, types, rates, fail, rate_rps=args.rate,
                                 input_len=args.input_len, output_len=args.output_len,
                                 lnc=args.lnc, hours=args.hours, dtype=args.dtype,
                                 max_latency_s=args.max_latency_s)
    return cmp.compare_train(arch, types, rates, fail, train_tokens=args.train_tokens,
                             nodes=args.node_counts, lnc=args.lnc, seq_len=args.seq_len,
                             global_batch=args.global_batch, dtype=args.dtype)


def table(cands: list[cmp.Candidate], top: int, serve: bool, currency: str = "$") -> str:
    """The human table: runnable rows (at most `top`), then the ones that cannot run."""
    ok = [c for c in cands if c.fits]
    bad = [c for c in cands if not c.fits]
    shown = ok if top == 0 else ok[:top]
    when = "latency_s" if serve else "days"
    third = "batch" if serve else "pp"
    moe = any(c.ep > 1 for c in cands)
    head = (f"{'instance_type':<15} {'nodes':>5} {'tp':>3} {third:>5} "
            + (f"{'ep':>2} " if moe else "") + f"{'dp':>4} "
            f"{when:>9} {'tokens/s':>10} {'mfu':>5} {'cost':>12} {'tokens/' + currency:>10} "
            f"{'goodput':>7} {'goodput cost':>13}")
    lines = [head]
    for c in shown:
        t = f"{c.time_s:.2f}" if serve else f"{c.time_s / 86400:.1f}"
        gcost = "never" if c.goodput_cost_dollars is None else f"{c.goodput_cost_dollars:,.0f}"
        star = "*" if c.price_placeholder else " "
        col = c.extra["batch"] if serve else c.pp
        ep = f"{c.ep:>2} " if moe else ""
        lines.append(f"{c.instance_type:<15} {c.nodes:>5} {c.tp:>3} {col:>5} {ep}{c.dp:>4} "
                     f"{t:>9} {c.tokens_per_s:>10,.0f} {c.mfu:>5.3f} "
                     f"{c.cost_dollars:>11,.0f}{star} {c.tokens_per_dollar:>10,.0f} "
                     f"{c.goodput:>7.4f} {gcost:>13}")
    if len(ok) > len(shown):
        lines.append(f"... {len(ok) - len(shown)} more runnable configurations "
                     "(--top 0 shows all)")
    if any(c.price_placeholder for c in shown):
        lines.append("* placeholder price (trnmon/hw/prices.py); set [pricing] to override")
    if bad:
        lines.append(f"cannot run ({len(bad)}):")
        lines += _cannot_run(bad, serve)
    return "\n".join(lines)


def _cannot_run(bad: list[cmp.Candidate], serve: bool) -> list[str]:
    """One entry per instance type and reason: the tp x pp shapes it hit, with the node
    counts (batches when serving) when only some of them failed."""
    groups: dict[tuple[str, str], dict[tuple[int, int, int], list[cmp.Candidate]]] = {}
    for c in bad:
        kind = (c.reason or "").split(":")[0] if c.tp else (c.reason or "")
        groups.setdefault((c.instance_type, kind), {}).setdefault((c.tp, c.pp, c.ep),
                                                                  []).append(c)
    all_sizes = {c.extra.get("batch", 0) if serve else c.nodes for c in bad if c.tp}
    out = []
    for (itype, kind), shapes in groups.items():
        items = []
        for (tp, pp, ep), cs in shapes.items():
            if not tp:
                continue
            sizes = [c.extra.get("batch", 0) if serve else c.nodes for c in cs]
            what = "batch" if serve else "nodes"
            part = f"tp={tp}" + ("" if serve else f" pp={pp}") + (f" ep={ep}" if ep > 1 else "")
            if set(sizes) != all_sizes:
                part += f" ({what} {','.join(map(str, sizes))})"
            items.append(part)
        if kind.startswith("does not fit"):
            cs = [c for group in shapes.values() for c in group]
            need = sorted(c.hbm_bytes_per_chip / GIB for c in cs)
            have = INSTANCE_TYPE_BY_NAME[itype].chip_spec.hbm_bytes / GIB
            span = (f"{need[0]:.1f}" if f"{need[0]:.1f}" == f"{need[-1]:.1f}"
                    else f"{need[0]:.1f}-{need[-1]:.1f}")
            kind = f"does not fit in {have:.0f} GiB of HBM per chip (needs {span} GiB)"
        line = f"  {itype:<15} {kind}" + (":" if items else "")
        for item in items:
            if len(line) + len(item) + 2 > 92:
                out.append(line + ",")
                line = " " * 18 + item
            else:
                line += ("" if line.endswith(":") else ",") + " " + item
        out.append(line)
    return out


def run(args: argparse.Namespace) -> int:
    cands = candidates(args)
    if args.json:
        print(json.dumps([c.to_json() for c in cands]))
    else:
        print(table(cands, args.top, bool(args.serve)))
    return 0
