"""Build the v1 JSON view models from an immutable FleetSnapshot.

Models are built with `model_construct` from values that already satisfy them (they come
from the engine, not from users), so a 2,500-node summary costs milliseconds, not a
validation pass per field.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from trnmon.api.models import (
    CoreDetail,
    DeviceDetail,
    EfaDevice,
    EventModel,
    FaultModel,
    FleetSummary,
    FleetTopology,
    FleetTotals,
    Heatmap,
    HostDetail,
    JobModel,
    LinkDetail,
    Location,
    LogicalCoreDetail,
    NodeDetail,
    NodeRow,
    ProcessModel,
    QueuedJobModel,
    TopologyNode,
)
from trnmon.hw.catalog import (
    CHIPS,
    ENGINES,
    ChipKind,
    efa_device_bandwidth,
    efa_device_name,
)
from trnmon.sim.rules import GOODPUT_STATES, runtime_host_bytes
from trnmon.sim.state import (
    ECC_EVENTS,
    EXECUTION_ERRORS,
    EXECUTION_STATUS,
    HBM_CATEGORIES,
    LATENCY_PERCENTILES,
    Health,
    LinkState,
)
from trnmon.snapshot import FleetSnapshot, JobView
from trnmon.topology import PORT_NAMES, PortKind, Topology

EVENTS_IN_SUMMARY = 200
HEALTH_NAMES = [h.name.lower() for h in Health]
LINK_NAMES = [s.name.lower() for s in LinkState]


@lru_cache(maxsize=8)
def locations(topo: Topology) -> tuple[Location, ...]:
    return tuple(Location.model_validate(topo.location(n)) for n in range(topo.n_nodes))


def job_model(j: JobView) -> JobModel:
    return JobModel.model_construct(
        job_id=j.job_id, name=j.name, kind=j.kind, model=j.model, state=j.state,
        instance_ids=list(j.instance_ids), nodes=list(j.nodes), chips=j.chips,
        step_seconds=j.step_s, tokens_per_second=j.tokens_per_s, tokens_total=j.tokens_total,
        mfu=j.mfu, steps=j.steps, progress=j.progress, restarts=j.restarts,
        started_at=j.started_at, submitted_at=j.submitted_at, ttft_seconds=j.ttft_s,
        itl_seconds=j.itl_s,
        goodput_seconds={k: getattr(j, f"{k}_s") for k in GOODPUT_STATES},
        effective_training_time=j.effective_training_time, cost_dollars=j.cost_dollars,
        cost_per_hour=j.cost_per_hour, tokens_per_dollar=j.tokens_per_dollar,
        goodput_tokens_per_dollar=j.goodput_tokens_per_dollar)


def heatmap(snap: FleetSnapshot) -> Heatmap:
    st = snap.state
    power_ratio = st.power_w / np.array([CHIPS[k].max_watts for k in sorted(CHIPS)],
                                        dtype=np.float32)[snap.topology.chip_kind]
    heat = Heatmap.encode({
        "utilization": snap.chip_util,
        "hbm": snap.hbm_used_total / snap.hbm_capacity,
        "temperature": st.temp_c,
        "power": power_ratio,
    })
    return heat.model_copy(update={"states": Heatmap.encode_states(heat_states(snap))})


def heat_states(snap: FleetSnapshot) -> npt.NDArray[np.uint8]:
    """HEAT_STATES code per chip: the worst of throttled, link not up, hung, failed, lost."""
    st = snap.state
    codes = np.zeros(st.health.shape[0], dtype=np.uint8)
    codes[st.throttled] = 1
    codes[(st.link_state != LinkState.UP).any(axis=1)] = 2
    codes[st.health == Health.HUNG] = 3
    codes[st.health == Health.FAILED] = 4
    lost = (st.health == Health.LOST) | ~st.node_up[snap.topology.chip_node]
    codes[lost] = 5
    return codes


def fleet_summary(snap: FleetSnapshot, *, source: str = "emulated") -> FleetSummary:
    topo = snap.topology
    s = snap.node_summary
    locs = locations(topo)
    jobs_by_node: dict[int, list[int]] = {}
    for j in snap.jobs:
        for n in j.nodes:
            jobs_by_node.setdefault(n, []).append(j.job_id)
    cols = {k: v.tolist() for k, v in s.items()}
    ids = snap.instance_ids
    rows = [NodeRow.model_construct(
        node=n, instance_id=ids[n], location=locs[n], up=bool(cols["up"][n]),
        chips=int(cols["chips"][n]), busy_chips=int(cols["busy_chips"][n]),
        unhealthy_chips=int(cols["unhealthy_chips"][n]),
        throttled_chips=int(cols["throttled_chips"][n]),
        utilization=cols["utilization"][n], hbm_used_bytes=cols["hbm_used_bytes"][n],
        hbm_total_bytes=cols["hbm_total_bytes"][n], power_watts=cols["power_watts"][n],
        temperature_max_celsius=cols["temperature_max_celsius"][n],
        health=HEALTH_NAMES[int(cols["health_worst"][n])], job_ids=jobs_by_node.get(n, []),
    ) for n in range(topo.n_nodes)]
    t = snap.fleet_totals()
    totals = FleetTotals.model_construct(
        nodes=int(t["nodes"]), nodes_up=int(t["nodes_up"]), chips=int(t["chips"]),
        busy_chips=int(t["busy_chips"]), unhealthy_chips=int(t["unhealthy_chips"]),
        throttled_chips=int(snap.state.throttled.sum()), utilization=t["utilization"],
        hbm_used_bytes=t["hbm_used_bytes"], hbm_total_bytes=t["hbm_total_bytes"],
        power_watts=t["power_watts"], jobs=int(t["jobs"]), queued_jobs=int(t["queued_jobs"]),
        active_faults=int(t["active_faults"]), cost_per_hour=snap.cost.burn_total,
        cost_idle_share=snap.cost.burn_share("idle", "unallocated"),
        cost_lost_share=snap.cost.burn_share("checkpoint_restart", "unhealthy"),
        currency=snap.cost.currency)
    return FleetSummary.model_construct(
        api_version="v1", source=source, fleet=topo.fleet_name, region=topo.region,
        tick=snap.tick, t=snap.t, wall_time=snap.wall_time,
        tick_duration_seconds=snap.tick_duration_s, totals=totals, nodes=rows,
        heatmap=heatmap(snap), jobs=[job_model(j) for j in snap.jobs],
        queued=[QueuedJobModel.model_construct(job_id=q.job_id, kind=q.kind, model=q.model,
                                               nodes=q.nodes, restarts=q.restarts)
                for q in snap.queued],
        faults=[FaultModel.model_construct(
            fault_id=f.fault_id, kind=f.kind, instance_id=f.instance_id, node=f.node,
            device=f.device, port=f.port, started_at=f.started_at, clears_at=f.clears_at,
            injected=f.injected) for f in snap.faults],
        events=[EventModel.model_construct(
            seq=e.seq, t=e.t, kind=e.kind, severity=e.severity, text=e.text,  # type: ignore[arg-type]
            instance_id=e.instance_id, device=e.device, job_id=e.job_id)
            for e in snap.events[-EVENTS_IN_SUMMARY:]])


def fleet_topology(topo: Topology, instance_ids: tuple[str, ...] | None = None
                   ) -> FleetTopology:
    """The fleet's layout; `instance_ids`: the nodes' current ids (after replacements)."""
    locs = locations(topo)
    ids = instance_ids or topo.instance_ids
    return FleetTopology.model_construct(
        api_version="v1", fleet=topo.fleet_name, region=topo.region, lnc=topo.lnc,
        chips=topo.n_chips,
        nodes=[TopologyNode.model_construct(
            node=n, instance_id=ids[n], location=locs[n],
            chips=int(topo.chip_count_per_node[n]), first_chip=int(topo.node_chip_start[n]))
            for n in range(topo.n_nodes)])


def _device(snap: FleetSnapshot, chip: int) -> DeviceDetail:
    topo, st = snap.topology, snap.state
    node = int(topo.chip_node[chip])
    spec = CHIPS[ChipKind(int(topo.chip_kind[chip]))]
    numbering = topo.numbering(node)
    local = int(topo.chip_local[chip])
    ncores = spec.physical_cores
    util = st.core_util[chip].tolist()
    flops = st.core_flops[chip].tolist()
    eng = st.core_engine[chip].tolist()
    cores = [CoreDetail.model_construct(index=k, utilization=util[k],
                                        engines=dict(zip(ENGINES, eng[k], strict=True)),
                                        flops=flops[k]) for k in range(ncores)]
    logical = []
    for i, lid in enumerate(numbering.logical_ids(local)):
        phys = list(numbering.physical_of(i))
        logical.append(LogicalCoreDetail.model_construct(
            neuroncore=lid, physical=phys, utilization=sum(util[p] for p in phys) / len(phys),
            flops=sum(flops[p] for p in phys)))
    links = []
    rx = snap.link_rx_bytes
    for p in np.flatnonzero(topo.port_valid[chip]).tolist():
        peer = int(topo.port_peer[chip, p])
        links.append(LinkDetail.model_construct(
            port=PORT_NAMES[p],
            kind="ultraserver" if topo.port_kind[chip, p] == PortKind.ULTRASERVER
            else "intra_node",
            peer_device=int(topo.chip_local[peer]),
            peer_instance_id=snap.instance_id(int(topo.chip_node[peer])),
            state=LINK_NAMES[int(st.link_state[chip, p])],
            bandwidth_bytes_per_second=float(topo.port_bandwidth[chip, p]),
            tx_bytes=float(st.link_tx_bytes[chip, p]), rx_bytes=float(rx[chip, p]),
            errors=float(st.link_errors[chip, p])))
    lat = snap.latency_percentiles(np.array([chip]))[0].tolist()
    return DeviceDetail.model_construct(
        device=local, chip=chip, chip_name=spec.name,
        health=HEALTH_NAMES[int(st.health[chip])], throttled=bool(st.throttled[chip]),
        clock_ratio=float(st.clock_scale[chip]), temperature_celsius=float(st.temp_c[chip]),
        power_watts=float(st.power_w[chip]), energy_joules=float(st.energy_j[chip]),
        utilization=float(snap.chip_util[chip]),
        hbm_used_bytes=dict(zip(HBM_CATEGORIES, st.hbm_used[chip].tolist(), strict=True)),
        hbm_total_bytes=float(spec.hbm_bytes),
        hbm_bandwidth_utilization=float(st.hbm_bw_util[chip]),
        cores=cores, logical_cores=logical,
        ecc=dict(zip(ECC_EVENTS, st.ecc[chip].tolist(), strict=True)),
        execution_status=dict(zip(EXECUTION_STATUS, st.exec_status[chip].tolist(),
                                  strict=True)),
        execution_errors=dict(zip(EXECUTION_ERRORS, st.exec_errors[chip].tolist(),
                                  strict=True)),
        latency_seconds=dict(zip(LATENCY_PERCENTILES, lat, strict=True)),
        links=links, job_id=int(snap.chip_job_id[chip]))


def node_detail(snap: FleetSnapshot, node: int) -> NodeDetail:
    topo, st = snap.topology, snap.state
    itype = topo.instance_type(node)
    numbering = topo.numbering(node)
    host = HostDetail.model_construct(
        vcpus=itype.vcpus, vcpu_user_ratio=float(st.host_vcpu_user[node]),
        vcpu_system_ratio=float(st.host_vcpu_system[node]),
        runtime_vcpu_user_ratio=float(st.runtime_vcpu_user[node]),
        runtime_vcpu_system_ratio=float(st.runtime_vcpu_system[node]),
        memory_total_bytes=float(itype.host_memory_bytes),
        memory_used_bytes=float(st.host_mem_used[node]),
        efa_tx_bytes=float(st.efa_tx_bytes[node]), efa_rx_bytes=float(st.efa_rx_bytes[node]))
    devices = [_device(snap, c) for c in topo.node_chips(node)]
    on_node = [j for j in snap.jobs if node in j.nodes]
    return NodeDetail.model_construct(
        api_version="v1", tick=snap.tick, t=snap.t, node=node,
        instance_id=snap.instance_id(node), location=locations(topo)[node],
        up=bool(st.node_up[node]), lnc=numbering.lnc, core_version=numbering.version_label,
        logical_cores_per_device=numbering.logical_per_chip, host=host,
        devices=devices, jobs=[job_model(j) for j in on_node],
        processes=processes(snap, node, on_node, devices), efa=efa_devices(snap, node),
        replacements=int(st.node_generation[node]))


def efa_devices(snap: FleetSnapshot, node: int) -> list[EfaDevice]:
    """The node's EFA devices (none on inf2)."""
    topo, st = snap.topology, snap.state
    bw = efa_device_bandwidth(topo.instance_type(node))
    return [EfaDevice.model_construct(
        index=i, name=efa_device_name(i),
        state="down" if st.efa_state[node, i] == LinkState.DOWN else "up",
        bandwidth_bytes_per_second=bw,
        tx_bytes=float(st.efa_dev_tx_bytes[node, i]),
        rx_bytes=float(st.efa_dev_rx_bytes[node, i]),
        errors=float(st.efa_dev_errors[node, i]))
        for i in range(int(topo.node_efa_devices[node]))]


def processes(snap: FleetSnapshot, node: int, jobs: list[JobView],
              devices: list[DeviceDetail]) -> list[ProcessModel]:
    """One runtime process per job on the node: the runtime's own host memory
    (`rules.runtime_host_bytes`) and the node's runtime vCPU shared evenly, as
    `trnmon monitor` reports them."""
    st = snap.state
    per_node = snap.topology.numbering(node).logical_per_chip * len(devices)
    share = 1.0 / max(len(jobs), 1)
    out = []
    for j in jobs:
        proc = j.process_on(node, per_node)
        assert proc is not None
        mine = [d for d in devices if d.job_id == j.job_id]
        cores = [lc for d in mine for lc in d.logical_cores]
        out.append(ProcessModel.model_construct(
            pid=proc.pid, runtime_tag=proc.tag, command=proc.command,
            runtime_version=proc.runtime_version, job_id=j.job_id,
            neuroncores=[lc.neuroncore for lc in cores], devices=[d.device for d in mine],
            utilization=sum(lc.utilization for lc in cores) / max(len(cores), 1),
            hbm_used_bytes=float(sum(sum(d.hbm_used_bytes.values()) for d in mine)),
            host_used_bytes=runtime_host_bytes(j.kind) if st.node_up[node] else 0.0,
            vcpu_user_ratio=float(st.runtime_vcpu_user[node]) * share,
            vcpu_system_ratio=float(st.runtime_vcpu_system[node]) * share))
    return out
