"""Engine checkpoints: a copy of the engine's `SimState`, enough to continue exactly.

`capture(engine)` copies the engine's `SimState` (`trnmon/sim/simstate.py`; cheap: memcpy
of the arrays plus a small JSON document) so the caller can write it out on another thread
while the engine keeps ticking. `restore(ckpt, config)` builds an engine for the same fleet
and overwrites its state, so that stepping the restored engine gives the same trajectory
as never stopping: the generators' states, the clock, the event sequence, the scheduler's
queues and counters, the fault registry and the job table all come back.

The arrays are exactly `SimState.arrays()` (a column added to the device state or the job
table's schema is checkpointed without touching this module); files written before that
object existed (format version 1, with some constant arrays besides) restore unchanged.
The file format is an uncompressed numpy ``.npz`` (a zip: per-member CRC-32 catches
corruption) with the JSON document stored as a byte array; nothing is pickled, so a
hostile file cannot run code.
"""

from __future__ import annotations

import io
import json
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from trnmon.config.model import FleetConfig
from trnmon.sim.engine import Engine
from trnmon.sim.faultkinds import Fault, FaultKind
from trnmon.sim.goodput import Goodput
from trnmon.sim.jobs import JobRecord
from trnmon.sim.pending import Pending
from trnmon.sim.simstate import EVENT_LOG, Event
from trnmon.sim.workloads import JobSpec
from trnmon.topology import Topology

FORMAT = "trnmon-checkpoint"
VERSION = 1
META_KEY = "__meta__"

Arrays = dict[str, npt.NDArray[Any]]
# Arrays added to the state after the first version-1 files: absent there, zero on restore.
PER_CELL = frozenset({"sched.goodput", "sched.wait_hist"})  # one row per cell now
NEW_IN_V1 = frozenset({"sched.goodput", "sched.alloc_avg", "sched.wait_hist", "sched.lost",
                       "jobs.gp_productive", "jobs.gp_checkpoint", "jobs.gp_loading",
                       "jobs.gp_lost", "state.node_generation", "state.efa_state",
                       "state.efa_dev_tx_bytes", "state.efa_dev_rx_bytes",
                       "state.efa_dev_errors"})


class CheckpointError(ValueError):
    """The checkpoint is unreadable or belongs to a different fleet."""


@dataclass
class Checkpoint:
    """A captured engine: the JSON-able document (`meta`), the state's arrays by checkpoint
    key, and the caller's own arrays (`extra`, e.g. the daemon's history)."""

    meta: dict[str, Any]
    arrays: Arrays = field(default_factory=dict)
    extra: Arrays = field(default_factory=dict)  # the caller's (history, say)


def fleet_fingerprint(config: FleetConfig) -> dict[str, Any]:
    """What fixes the shape of the fleet: a checkpoint only restores onto the same one.
    (`cell_racks` only when set, so one-cell checkpoints stay compatible.)"""
    keys = {"name", "region", "availability_zones", "lnc"}
    if config.cell_racks is not None:
        keys.add("cell_racks")
    return config.model_dump(mode="json", include=keys)


def shard_text(shard: tuple[int, int] | None) -> str:
    return "the whole fleet" if shard is None else f"shard {shard[0]}/{shard[1]}"


def _spec(spec: JobSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


def capture(eng: Engine) -> Checkpoint:
    """Copy the engine's full state (call between ticks, on the engine's thread)."""
    sim = eng.sim
    arrays: Arrays = {key: arr.copy() for key, arr in sim.arrays().items()}
    arrays.update({key: arr.copy() for key, arr in eng.cost.arrays().items()})
    sched, faults, clock = sim.sched, sim.faults, sim.clock
    meta: dict[str, Any] = {
        "format": FORMAT, "version": VERSION,
        "fleet": fleet_fingerprint(eng.config),
        "shard": list(eng.topo.shard) if eng.topo.shard else None,
        "config": eng.config.model_dump(mode="json"),
        "engine": {"t": clock.t, "tick": clock.tick, "owed": clock.owed, "speed": clock.speed,
                   "event_seq": clock.event_seq, "last_tick_s": clock.last_tick_s,
                   "rng": sim.rngs[0].bit_generator.state,
                   "rngs": [rng.bit_generator.state for rng in sim.rngs],
                   "events": [asdict(e) for e in sim.events]},
        "jobs": [{"slot": slot, "job_id": r.job_id, "spec": _spec(r.spec), "nodes": r.nodes,
                  "submitted_at": r.submitted_at, "started_at": r.started_at,
                  "restarts": r.restarts, "ultraserver_ring": r.ultraserver_ring,
                  "chips": r.chips, "ttft_s": r.ttft_s, "goodput": r.goodput.as_dict(),
                  "restart_cause": r.restart_cause}
                 for slot, r in sim.jobs.records.items()],
        "sched": {"queues": [[{"spec": _spec(p.spec), "submitted_at": p.submitted_at,
                             "job_id": p.job_id, "restarts": p.restarts,
                             "resume_step": p.resume_step, "elapsed": p.elapsed,
                             "enqueued_at": p.enqueued_at, "goodput": p.goodput.as_dict(),
                             "cause": p.cause}
                            for p in q] for q in sched.queues],
                  "next_job_ids": sched.next_job_ids, "completed": sched.completed,
                  "failed": sched.failed, "rejected": sched.rejected,
                  "placements": sched.placements, "wait_sum": sched.wait_sum,
                  "interruptions": dict(sched.interruptions)},
        "faults": {"next_ids": faults.next_ids, "links_changed": faults.links_changed,
                   "active": [{**asdict(f), "kind": f.kind.value}
                              for f in faults.active.values()]},
        "cost": eng.cost.meta(),
    }
    return Checkpoint(meta=meta, arrays=arrays)


def restore(ckpt: Checkpoint, config: FleetConfig, topology: Topology | None = None) -> Engine:
    """A new engine for `config`'s fleet (or the shard `topology` is) in the checkpoint's
    state.

    Live settings (seed aside, workload and fault rates, tick length) come from `config`;
    the fleet's shape and shard must match the checkpoint's or `CheckpointError` is raised.
    """
    meta = ckpt.meta
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CheckpointError(f"not a version-{VERSION} trnmon checkpoint")
    if meta.get("fleet") != fleet_fingerprint(config):
        raise CheckpointError("checkpoint is of a different fleet "
                              f"({meta.get('fleet', {}).get('name')!r})")
    saved = meta.get("shard")
    saved_shard = (int(saved[0]), int(saved[1])) if isinstance(saved, list) else None
    mine = topology.shard if topology is not None else None
    if saved_shard != mine:
        raise CheckpointError(f"checkpoint is of {shard_text(saved_shard)}, this daemon runs "
                              f"{shard_text(mine)}")
    try:
        return _restore(meta, ckpt.arrays, config, topology)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint is incomplete or inconsistent: {exc}") from None


def _goodput(d: dict[str, Any] | None) -> Goodput:
    """A job's goodput from its checkpoint entry (zeros in files written before it)."""
    return Goodput(**{k: float(v) for k, v in (d or {}).items()})


def _pending(p: dict[str, Any]) -> Pending:
    enq = p.get("enqueued_at")
    return Pending(spec=JobSpec.model_validate(p["spec"]), submitted_at=float(p["submitted_at"]),
                   job_id=int(p["job_id"]), restarts=int(p["restarts"]),
                   resume_step=float(p["resume_step"]), elapsed=float(p["elapsed"]),
                   enqueued_at=None if enq is None else float(enq),
                   goodput=_goodput(p.get("goodput")), cause=str(p.get("cause", "")))


def _restore(meta: dict[str, Any], arrays: Arrays, config: FleetConfig,
             topology: Topology | None) -> Engine:
    eng = Engine(config, topology=topology)
    sim = eng.sim
    for key, arr in sim.arrays().items():
        if key in NEW_IN_V1 and key not in arrays:
            arr[...] = 0  # written before goodput and target arrivals: they start from zero
            continue
        saved = arrays[key]
        if key in PER_CELL and saved.shape == arr.shape[1:] and arr.shape[0] == 1:
            saved = saved[None]  # written when these were fleet totals (one-cell fleets)
        if saved.shape != arr.shape or saved.dtype != arr.dtype:
            raise ValueError(f"{key} is {saved.dtype}{saved.shape}, "
                             f"expected {arr.dtype}{arr.shape}")
        np.copyto(arr, saved)
    # The cost meter's counters (files written before it: they start from zero).
    for key, arr in eng.cost.arrays().items():
        if key in arrays:
            if arrays[key].shape != arr.shape:
                raise ValueError(f"{key} is {arrays[key].shape}, expected {arr.shape}")
            np.copyto(arr, arrays[key])
    eng.cost.load_meta(meta.get("cost", {}))
    e = meta["engine"]
    clock = sim.clock
    clock.t, clock.tick, clock.owed = float(e["t"]), int(e["tick"]), float(e["owed"])
    clock.speed, clock.last_tick_s = float(e["speed"]), float(e["last_tick_s"])
    clock.event_seq = int(e["event_seq"])
    rngs = e.get("rngs", [e["rng"]])
    if len(rngs) != len(sim.rngs):
        raise ValueError(f"{len(rngs)} generators for {len(sim.rngs)} cells")
    for rng, state in zip(sim.rngs, rngs, strict=True):
        rng.bit_generator.state = state
    sim.events = deque((Event(**ev) for ev in e["events"]), maxlen=EVENT_LOG)

    sim.jobs.records = {int(j["slot"]): JobRecord(
        job_id=int(j["job_id"]), spec=JobSpec.model_validate(j["spec"]),
        nodes=[int(n) for n in j["nodes"]], submitted_at=float(j["submitted_at"]),
        started_at=float(j["started_at"]), restarts=int(j["restarts"]),
        ultraserver_ring=bool(j["ultraserver_ring"]), chips=int(j["chips"]),
        ttft_s=float(j.get("ttft_s", 0.0)), goodput=_goodput(j.get("goodput")),
        restart_cause=str(j.get("restart_cause", "")))
        for j in meta["jobs"]}
    sim.jobs.version += 1  # new records: whatever was derived from the old ones is stale
    s = meta["sched"]
    sched = sim.sched
    queues = s.get("queues", [s.get("queue")])
    next_job_ids = s.get("next_job_ids", [s.get("next_job_id")])
    if len(queues) != len(sim.rngs) or len(next_job_ids) != len(sim.rngs):
        raise ValueError("scheduler queues do not match the cells")
    sched.queues = [deque(_pending(p) for p in q) for q in queues]
    sched.next_job_ids = [int(n) for n in next_job_ids]
    sched.completed, sched.failed = int(s["completed"]), int(s["failed"])
    sched.rejected, sched.placements = int(s.get("rejected", 0)), int(s.get("placements", 0))
    sched.wait_sum = float(s.get("wait_sum", 0.0))
    sched.interruptions = {str(k): int(v) for k, v in s.get("interruptions", {}).items()}
    eng.scheduler.events.clear()
    f = meta["faults"]
    faults = sim.faults
    faults.active = {int(d["fault_id"]): Fault(**{**d, "kind": FaultKind(d["kind"])})
                     for d in f["active"]}
    next_ids = f.get("next_ids", [f.get("next_id")])
    if len(next_ids) != len(sim.rngs):
        raise ValueError("fault ids do not match the cells")
    faults.next_ids = [int(n) for n in next_ids]
    faults.links_changed = bool(f["links_changed"])
    eng.faults.events.clear()
    eng.kernel.refresh_links(sim.devices)  # derived masks from the restored link states
    eng.scheduler.touch_all()  # queues and nodes were replaced under the scheduler
    return eng


# --- the file format ---------------------------------------------------------------------
def write(ckpt: Checkpoint, fh: IO[bytes]) -> None:
    meta = np.frombuffer(json.dumps(ckpt.meta).encode(), dtype=np.uint8)
    clash = set(ckpt.arrays) & set(ckpt.extra)
    if clash:
        raise ValueError(f"extra arrays clash with engine arrays: {sorted(clash)}")
    members: Arrays = {META_KEY: meta, **ckpt.arrays,
                       **{f"extra/{k}": v for k, v in ckpt.extra.items()}}
    np.savez(fh, **members)  # type: ignore[arg-type]  # numpy's stub types allow_pickle


def read(fh: IO[bytes]) -> Checkpoint:
    """Parse a checkpoint; any damage becomes `CheckpointError` (never a pickle load)."""
    try:
        with np.load(fh, allow_pickle=False) as npz:
            files = list(npz.files)
            if META_KEY not in files:
                raise CheckpointError("no metadata: not a trnmon checkpoint")
            meta = json.loads(npz[META_KEY].tobytes().decode())
            arrays = {k: npz[k] for k in files if k != META_KEY and not k.startswith("extra/")}
            extra = {k[len("extra/"):]: npz[k] for k in files if k.startswith("extra/")}
    except CheckpointError:
        raise
    except Exception as exc:  # zip, CRC, npy header, JSON, UTF-8: all mean "damaged"
        raise CheckpointError(f"unreadable checkpoint: {type(exc).__name__}: {exc}") from None
    if not isinstance(meta, dict):
        raise CheckpointError("checkpoint metadata is not an object")
    return Checkpoint(meta=meta, arrays=arrays, extra=extra)


def dumps(ckpt: Checkpoint) -> bytes:
    buf = io.BytesIO()
    write(ckpt, buf)
    return buf.getvalue()


def loads(data: bytes) -> Checkpoint:
    return read(io.BytesIO(data))
