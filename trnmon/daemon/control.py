"""Control requests: their pydantic models and the checks that need the fleet.

Every request is validated twice before it reaches the engine: by its model (types, ranges,
unknown fields) and against the topology (the node exists, the device and port are on it,
a job can ever be placed on this fleet). Anything that gets through is safe for the tick
thread: a bad job or fault must be refused here, not crash the engine later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from trnmon.hw.catalog import ULTRASERVER_NODES
from trnmon.sim import Engine
from trnmon.sim.faultkinds import Fault, FaultKind
from trnmon.sim.workloads import MODELS, JobSpec
from trnmon.topology import Topology


class RequestError(Exception):
    """A request the fleet cannot honour: HTTP status, the field at fault and why."""

    def __init__(self, status: int, field: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


class Request(BaseModel):
    """Base of control bodies: unknown fields refused. HTTP bodies are validated in strict
    JSON mode (`inputs.parse_body`), so ``true`` is not 1 and ``"1"`` is not a number."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class InjectFault(Request):
    """POST /api/v1/faults."""

    kind: FaultKind
    instance_id: str = Field(min_length=1, max_length=64)
    device: int | None = Field(None, ge=0, le=63)
    """Neuron device on the node (chip faults; default device 0). Ignored for node_loss."""
    port: int | None = Field(None, ge=0, le=5)
    """NeuronLink port for link faults (default: the device's first valid port)."""
    duration_s: float | None = Field(None, gt=0, le=1e8)
    """Simulated seconds until the fault clears by itself (default: until cleared)."""


class SetSpeed(Request):
    """PUT /api/v1/control/speed."""

    speed: float = Field(ge=1e-3, le=100_000)


@dataclass(frozen=True)
class FaultLimits:
    """Caps on injected faults: active injected faults fleet-wide (429 past it), and active
    faults of any origin on one target, a device or a node for node_loss (409)."""

    total: int = 256
    per_target: int = 4


def resolve_node(topo: Topology, instance_id: str,
                 generation: npt.NDArray[np.int32] | None = None) -> int:
    """Node index for an instance id; RequestError 404 if the fleet has no such node.

    With the nodes' replacement counts (`generation`), a replaced node's current id
    resolves too; its first id still names the slot (a client holding it follows the
    node to its replacement)."""
    if generation is not None and generation.any():
        for n in np.flatnonzero(generation).tolist():
            if topo.instance_id(n, int(generation[n])) == instance_id:
                return n
    ids = topo.instance_ids
    try:
        node = topo.node_index(instance_id)
    except (KeyError, ValueError):
        node = -1
    if node < 0 or ids[node] != instance_id:
        raise RequestError(404, "instance_id", f"unknown node {instance_id!r}")
    return node


def check_caps(eng: Engine, limits: FaultLimits, *, node: int, chip: int | None) -> None:
    """Refuse an injection past the caps: each fault costs tick time and stacks effects."""
    active = eng.faults.active.values()
    injected = sum(1 for f in active if f.injected)
    if injected >= limits.total:
        raise RequestError(429, None, f"{injected} injected faults are active, the limit is "
                                      f"{limits.total} (max_active_faults): clear some first")
    if chip is None:
        here = sum(1 for f in active if f.node == node and f.kind == FaultKind.NODE_LOSS)
        what = "node"
    else:
        here = sum(1 for f in active if f.chip == chip)
        what = "device"
    if here >= limits.per_target:
        raise RequestError(409, "instance_id" if chip is None else "device",
                           f"this {what} already has {here} active faults, the limit is "
                           f"{limits.per_target} (max_faults_per_target)")


def inject(eng: Engine, req: InjectFault, limits: FaultLimits | None = None) -> Fault:
    topo = eng.topo
    limits = limits or FaultLimits()
    node = resolve_node(topo, req.instance_id, eng.state.node_generation)
    if req.kind == FaultKind.NODE_LOSS:
        check_caps(eng, limits, node=node, chip=None)
        return eng.inject(req.kind, node=node, duration_s=req.duration_s)
    chips = topo.node_chips(node)
    device = req.device or 0
    if device >= len(chips):
        raise RequestError(422, "device", f"{req.instance_id} has devices 0-{len(chips) - 1}, "
                                          f"not {device}")
    chip = chips[device]
    port = -1
    if req.kind in (FaultKind.LINK_DOWN, FaultKind.LINK_DEGRADED):
        valid = np.flatnonzero(topo.port_valid[chip]).tolist()
        port = valid[0] if req.port is None else req.port
        if port not in valid:
            raise RequestError(422, "port", f"device {device} has NeuronLink ports {valid}, "
                                            f"not {port}")
    elif req.port is not None:
        raise RequestError(422, "port", f"port only applies to link faults, not {req.kind}")
    check_caps(eng, limits, node=node, chip=chip)
    return eng.inject(req.kind, chip=chip, port=port, duration_s=req.duration_s)


def clear(eng: Engine, fault_id: int) -> Fault:
    if fault_id not in eng.faults.active:
        raise RequestError(404, "fault_id", f"no active fault {fault_id}")
    return eng.clear(fault_id)


def check_job(topo: Topology, node_family: list[str], spec: JobSpec) -> None:
    """Refuse jobs this fleet could never place (they would sit at the head of the queue)."""
    if spec.model not in MODELS:  # JobSpec's pattern is a substring match: check exactly
        raise RequestError(422, "model", f"unknown model {spec.model!r}; known: "
                                         f"{', '.join(MODELS)}")
    if spec.ultraserver:
        if spec.nodes % ULTRASERVER_NODES:
            raise RequestError(422, "nodes", f"an UltraServer job needs a multiple of "
                                             f"{ULTRASERVER_NODES} nodes, not {spec.nodes}")
        have = topo.n_ultraservers * ULTRASERVER_NODES
        what = "UltraServer nodes"
    else:
        have = node_family.count(spec.instance_family)
        what = f"{spec.instance_family} nodes"
    if spec.nodes > have:
        raise RequestError(422, "nodes", f"the fleet has {have} {what}, the job asks for "
                                         f"{spec.nodes}")


def submit(eng: Engine, spec: JobSpec) -> int:
    check_job(eng.topo, eng.scheduler.node_family.tolist(), spec)
    cap = eng.scheduler.max_capacity(spec)
    if len(eng.cells) > 1 and spec.nodes > cap:
        raise RequestError(422, "nodes", f"the largest scheduling cell has {cap} nodes for "
                                         f"this job, it asks for {spec.nodes}")
    try:
        return eng.submit(spec)
    except ValueError as exc:  # the queue is full
        raise RequestError(429, None, str(exc)) from None


def cancel(eng: Engine, job_id: int) -> bool:
    if not eng.cancel(job_id):
        raise RequestError(404, "job_id", f"no queued or running job {job_id}")
    return True
