"""The daemon's gate in front of the core's checkpoint restore: a schema and a trial tick.

`trnmon.sim.checkpoint.read` only proves a file is an intact archive. Before the core
sees its contents, `validate` checks the version-1 metadata against a strict pydantic
schema (types without coercion, no NaN or infinity, counts and clocks non-negative) and
against this fleet (shard of the right shape, every job node, fault device, node and port
inside the topology, job slots inside the job table), and every float array for NaN and
infinity. `restore_checked` then restores, runs one trial tick on that engine and restores
again for real: whatever slipped through surfaces at startup as `CheckpointError`, which
the caller answers by moving the file aside, never as a crash loop under
`Restart=on-failure`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trnmon.config.model import FleetConfig
from trnmon.sim import Engine
from trnmon.sim import checkpoint as ck
from trnmon.sim.faultkinds import FaultKind
from trnmon.sim.workloads import JobSpec
from trnmon.topology import Topology, build_topology
from trnmon.topology.neuronlink import MAX_PORTS


class _Schema(BaseModel):
    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="ignore")


class _Engine(_Schema):
    t: float = Field(ge=0)
    tick: int = Field(ge=0)
    owed: float = Field(ge=0)
    speed: float = Field(gt=0)
    event_seq: int = Field(ge=0)
    last_tick_s: float = Field(ge=0)
    rng: dict[str, Any]
    rngs: list[dict[str, Any]] = Field(min_length=1)
    events: list[dict[str, Any]]


class _Job(_Schema):
    slot: int = Field(ge=0)
    job_id: int = Field(ge=1)
    spec: dict[str, Any]
    nodes: list[int] = Field(min_length=1)
    submitted_at: float = Field(ge=0)
    started_at: float = Field(ge=0)
    restarts: int = Field(ge=0)
    ultraserver_ring: bool
    chips: int = Field(ge=0)


class _Pending(_Schema):
    spec: dict[str, Any]
    submitted_at: float = Field(ge=0)
    job_id: int = Field(ge=1)
    restarts: int = Field(ge=0)
    resume_step: float = Field(ge=0)
    elapsed: float = Field(ge=0)


class _Sched(_Schema):
    queues: list[list[_Pending]] = Field(min_length=1)
    next_job_ids: list[int] = Field(min_length=1)
    completed: int = Field(ge=0)
    failed: int = Field(ge=0)


class _Fault(_Schema):
    fault_id: int = Field(ge=0)
    kind: str
    chip: int = Field(ge=-1)
    node: int = Field(ge=0)
    port: int = Field(ge=-1, lt=MAX_PORTS)
    started_at: float = Field(ge=0)
    clears_at: float | None = Field(None, ge=0)
    injected: bool


class _Faults(_Schema):
    next_ids: list[int] = Field(min_length=1)
    links_changed: bool
    active: list[_Fault]


class MetaV1(_Schema):
    """The version-1 checkpoint metadata, as far as restoring it safely needs."""

    format: str
    version: int
    fleet: dict[str, Any]
    shard: list[int] | None = Field(min_length=2, max_length=2)
    config: dict[str, Any]
    engine: _Engine
    jobs: list[_Job]
    sched: _Sched
    faults: _Faults


def _fail(text: str) -> ck.CheckpointError:
    return ck.CheckpointError(f"checkpoint fails validation: {text}")


def _where(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(metadata)"
    return f"{loc}: {err['msg']}"


def validate(saved: ck.Checkpoint, config: FleetConfig, topo: Topology) -> None:
    """Raise CheckpointError unless `saved` is a plausible version-1 checkpoint of `topo`.

    Another version goes to the core's restore unchecked: it refuses formats it does not
    know, and the trial tick in `restore_checked` still guards the daemon."""
    meta = saved.meta
    if meta.get("format") != ck.FORMAT or meta.get("version") != 1:
        return
    try:
        m = MetaV1.model_validate(meta)
    except ValidationError as exc:
        raise _fail(_where(exc)) from None
    if m.fleet != ck.fleet_fingerprint(config):  # before ranges: they depend on the fleet
        raise ck.CheckpointError(f"checkpoint is of a different fleet "
                                 f"({str(m.fleet.get('name'))[:64]!r})")
    if m.shard is not None and not 1 <= m.shard[0] <= m.shard[1]:
        raise _fail(f"shard {list(m.shard)} is not I/N with 1 <= I <= N")
    n_nodes, n_chips = topo.n_nodes, topo.n_chips
    slots = saved.arrays.get("jobs.state")
    n_slots = len(slots) if isinstance(slots, np.ndarray) else 0
    seen_slots: set[int] = set()
    for i, j in enumerate(m.jobs):
        if j.slot >= n_slots or j.slot in seen_slots:
            raise _fail(f"jobs.{i}.slot: {j.slot} is outside the job table ({n_slots}) "
                        "or repeated")
        seen_slots.add(j.slot)
        if any(not 0 <= n < n_nodes for n in j.nodes):
            raise _fail(f"jobs.{i}.nodes: a node outside 0-{n_nodes - 1}")
        _spec(j.spec, f"jobs.{i}.spec")
    for q, queue in enumerate(m.sched.queues):
        for k, p in enumerate(queue):
            _spec(p.spec, f"sched.queues.{q}.{k}.spec")
    for i, f in enumerate(m.faults.active):
        if f.kind not in {k.value for k in FaultKind}:
            raise _fail(f"faults.active.{i}.kind: unknown fault kind {f.kind[:40]!r}")
        if f.node >= n_nodes:
            raise _fail(f"faults.active.{i}.node: {f.node} is outside 0-{n_nodes - 1}")
        if f.chip >= n_chips or (f.chip >= 0 and int(topo.chip_node[f.chip]) != f.node):
            raise _fail(f"faults.active.{i}.chip: {f.chip} is not a device of node {f.node}")
        if f.port >= 0 and (f.chip < 0 or not topo.port_valid[f.chip, f.port]):
            raise _fail(f"faults.active.{i}.port: {f.port} is not a port of device {f.chip}")
    for name, arr in saved.arrays.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise _fail(f"array {name} holds NaN or infinity")


def _spec(data: dict[str, Any], where: str) -> None:
    try:
        JobSpec.model_validate(data)
    except ValidationError as exc:
        raise _fail(f"{where}.{_where(exc)}") from None


def restore_checked(saved: ck.Checkpoint, config: FleetConfig,
                    topology: Topology | None) -> Engine:
    """The engine in the checkpoint's state, or CheckpointError: validated, restored, one
    trial tick survived (on a throw-away restore, so the trajectory is untouched)."""
    topo = topology if topology is not None else build_topology(config)
    validate(saved, config, topo)
    for trial in (True, False):
        try:
            engine = ck.restore(saved, config, topology)
            if trial:
                engine.step()
        except ck.CheckpointError:
            raise
        except Exception as exc:  # the core's own checks, or damage they did not foresee
            what = "its first tick fails" if trial else "restore fails"
            raise ck.CheckpointError(f"checkpoint is inconsistent ({what}: "
                                     f"{type(exc).__name__}: {str(exc)[:200]})") from None
        if trial:
            del engine
    return engine
