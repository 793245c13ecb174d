"""`trnmon inject`, `trnmon jobs`, `trnmon clock`: the daemon's control API from a shell."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from trnmon.api import client as shapes
from trnmon.api.client import Client, default_url
from trnmon.cli.args import SubParsers
from trnmon.errors import TrnmonError
from trnmon.sim.faultkinds import FaultKind

FAULT_KINDS = tuple(kind.value for kind in FaultKind)


def _client(args: argparse.Namespace) -> Client:
    return Client(args.url or default_url(), Path(args.token_file) if args.token_file else None)


def _print(obj: Any, as_json: bool, line: str) -> None:
    print(json.dumps(obj, indent=2) if as_json else line)


def _inject(args: argparse.Namespace) -> int:
    c = _client(args)
    if args.list:
        faults = c.request("GET", "/api/v1/faults", expect=shapes.FaultList)["faults"]
        if args.json:
            _print(faults, True, "")
        for f in [] if args.json else faults:
            where = f["instance_id"] + (f" nd{f['device']}" if f["device"] >= 0 else "")
            print(f"{f['fault_id']}\t{f['kind']}\t{where}\t"
                  f"{'injected' if f['injected'] else 'random'}")
        return 0
    if args.clear is not None:
        f = c.request("DELETE", f"/api/v1/faults/{args.clear}", auth=True,
                      expect=shapes.FaultAnswer)
        _print(f, args.json, f"cleared fault {f['fault_id']} ({f['kind']} on {f['instance_id']})")
        return 0
    if not args.kind or not args.node:
        raise TrnmonError("inject: give KIND and --node ID (or --list / --clear FAULT_ID)")
    body: dict[str, Any] = {"kind": args.kind, "instance_id": args.node}
    for key in ("device", "port"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.duration is not None:
        body["duration_s"] = args.duration
    f = c.request("POST", "/api/v1/faults", body, auth=True, expect=shapes.FaultAnswer)
    where = f["instance_id"] + (f" nd{f['device']}" if f["device"] >= 0 else "")
    _print(f, args.json, f"fault {f['fault_id']}: {f['kind']} on {where}")
    return 0


def _parse_set(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise TrnmonError(f"--set: expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw  # a bare string
    return out


def _jobs(args: argparse.Namespace) -> int:
    c = _client(args)
    if args.action == "submit":
        if not args.kind or not args.model:
            raise TrnmonError("jobs submit: give --kind and --model")
        body = {"kind": args.kind, "model": args.model, "nodes": args.nodes,
                **_parse_set(args.set or [])}
        r = c.request("POST", "/api/v1/jobs", body, auth=True, expect=shapes.JobAnswer)
        _print(r, args.json, f"job {r['job_id']} queued")
    elif args.action == "cancel":
        if args.job_id is None:
            raise TrnmonError("jobs cancel: give a JOB_ID")
        r = c.request("DELETE", f"/api/v1/jobs/{args.job_id}", auth=True,
                      expect=shapes.JobAnswer)
        _print(r, args.json, f"job {r['job_id']} cancelled")
    else:
        r = c.request("GET", "/api/v1/jobs", expect=shapes.JobList)
        if args.json:
            _print(r, True, "")
            return 0
        for j in r["jobs"]:
            print(f"{j['job_id']}\t{j['state']}\t{j['kind']}\t{j['model']}\t"
                  f"{len(j['nodes'])} node(s)\t{j['progress']:.0%}")
        for q in r["queued"]:
            print(f"{q['job_id']}\tqueued\t{q['kind']}\t{q['model']}\t{q['nodes']} node(s)\t-")
    return 0


def _clock(args: argparse.Namespace) -> int:
    c = _client(args)
    if args.action == "status":
        r = c.request("GET", "/api/v1/control", expect=shapes.ClockAnswer)
    elif args.action == "speed":
        if args.value is None:
            raise TrnmonError("clock speed: give the speed factor")
        r = c.request("PUT", "/api/v1/control/speed", {"speed": args.value}, auth=True,
                      expect=shapes.ClockAnswer)
    else:
        r = c.request("POST", f"/api/v1/control/{args.action}", {}, auth=True,
                      expect=shapes.ClockAnswer)
    _print(r, args.json, f"tick {r['tick']}, speed {r['speed']:g}x"
           f"{', paused' if r['paused'] else ''}")
    return 0


def _client_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help="daemon URL (default $TRNMON_URL, else http://127.0.0.1:9464)")
    p.add_argument("--token-file", metavar="FILE",
                   help="control token (default $TRNMON_TOKEN_FILE, else the daemon's "
                        "default state directory)")
    p.add_argument("--json", action="store_true", help="print the daemon's JSON answer")


def register(sub: SubParsers) -> None:
    p = sub.add_parser("inject", help="inject, list or clear faults in a running daemon")
    p.add_argument("kind", nargs="?", choices=FAULT_KINDS, metavar="KIND",
                   help=f"fault kind: {', '.join(FAULT_KINDS)}")
    p.add_argument("--node", metavar="ID", help="instance id")
    p.add_argument("--device", type=int, help="Neuron device on the node (default 0)")
    p.add_argument("--port", type=int, help="NeuronLink port, for link faults")
    p.add_argument("--duration", type=float, metavar="S",
                   help="simulated seconds until it clears itself")
    p.add_argument("--clear", type=int, metavar="FAULT_ID", help="clear an active fault")
    p.add_argument("--list", action="store_true", help="list active faults")
    _client_args(p)
    p.set_defaults(handler=_inject)

    p = sub.add_parser("jobs", help="list, submit or cancel jobs in a running daemon")
    p.add_argument("action", nargs="?", choices=("list", "submit", "cancel"), default="list")
    p.add_argument("job_id", nargs="?", type=int, help="job to cancel")
    p.add_argument("--kind", choices=("pretrain", "finetune", "inference", "batch_inference"))
    p.add_argument("--model", help="llama3-8b, llama3-70b, llama3-405b, mistral-7b, ...")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any other JobSpec field (repeatable), e.g. --set tp=16")
    _client_args(p)
    p.set_defaults(handler=_jobs)

    p = sub.add_parser("clock", help="pause, resume or set the speed of a running daemon")
    p.add_argument("action", choices=("status", "pause", "resume", "speed"))
    p.add_argument("value", nargs="?", type=float, help="speed factor")
    _client_args(p)
    p.set_defaults(handler=_clock)


