"""A real host's `HostState` as the v1 models neuron-top reads, plus its history.

The host is a fleet of one node (node 0), so the Fleet, Node, Device and Jobs views work
unchanged. History rings hold one row per report: the node's and each device's
utilization and HBM in use, and the fleet series (the same node, summed).
"""

from __future__ import annotations

import numpy as np

from trnmon.api.history import Ring
from trnmon.api.models import (
    CoreDetail,
    DeviceDetail,
    FleetSummary,
    FleetTotals,
    Heatmap,
    HistorySeries,
    HostDetail,
    JobModel,
    Location,
    LogicalCoreDetail,
    NodeDetail,
    NodeRow,
    ProcessModel,
)
from trnmon.neuron_monitor.host import NAN, HostState, chip_spec
from trnmon.sim.state import ECC_EVENTS, EXECUTION_ERRORS, EXECUTION_STATUS, HBM_CATEGORIES

SOURCE = "neuron-monitor"
WINDOW = 600


def location(host: HostState) -> Location:
    i = host.instance
    return Location(region=i.get("instance_region", ""),
                    availability_zone=i.get("instance_availability_zone", ""),
                    availability_zone_id=i.get("instance_availability_zone_id", ""),
                    datacenter="", row="", rack="", ultraserver=i.get("ultraserver_id", ""),
                    instance_type=i.get("instance_type", "") or "unknown")


def _split(values: dict[str, float], parts: int) -> dict[str, float]:
    return {k: v / max(parts, 1) for k, v in values.items()}


def device_users(host: HostState) -> dict[int, list[str]]:
    """Device -> tags of the runtimes using it, busiest first (its job is the first's)."""
    per_dev = host.cores_per_device
    load: dict[int, dict[str, float]] = {}
    for tag, r in host.runtimes.items():
        cores = r.cores or {}
        for core in host.used_cores(r):
            sample = cores.get(core)
            by_tag = load.setdefault(core // per_dev, {})
            by_tag[tag] = by_tag.get(tag, 0.0) + (sample.utilization if sample else 0.0)
    return {dev: sorted(by_tag, key=lambda t: (-by_tag[t], t)) for dev, by_tag in load.items()}


def node_detail(host: HostState) -> NodeDetail:
    spec = chip_spec(host.hardware)
    per_dev, lnc = host.cores_per_device, host.lnc
    load = host.core_load()
    memory = host.core_memory()
    job_of = {tag: host.totals[tag].job_id for tag in host.runtimes if tag in host.totals}
    users = device_users(host)
    n_devs_of: dict[str, int] = {}
    for tags in users.values():
        for tag in tags:
            n_devs_of[tag] = n_devs_of.get(tag, 0) + 1
    devices = []
    for dev in range(host.device_count):
        logical, physical = [], []
        for i, core in enumerate(range(dev * per_dev, (dev + 1) * per_dev)):
            sample = load.get(core)
            util = sample.utilization if sample else 0.0
            flops = (sample.flops or 0.0) if sample else 0.0
            phys = list(sample.physical) if sample and sample.physical else [util] * lnc
            ids = list(range(i * len(phys), (i + 1) * len(phys)))
            logical.append(LogicalCoreDetail(neuroncore=core, physical=ids, utilization=util,
                                             flops=flops))
            physical += [CoreDetail(index=p, utilization=u, engines={},
                                    flops=flops / len(phys)) for p, u in zip(ids, phys,
                                                                             strict=True)]
        tags = users.get(dev, [])
        hbm = dict.fromkeys(HBM_CATEGORIES, 0.0)
        for core in range(dev * per_dev, (dev + 1) * per_dev):
            for k, v in memory.get(core, {}).items():
                hbm[k] += v
        status = dict.fromkeys(EXECUTION_STATUS, 0.0)
        errors = dict.fromkeys(EXECUTION_ERRORS, 0.0)
        latency: dict[str, float] = {}
        for tag in tags:
            tot = host.totals.get(tag)
            if tot is not None:
                n = n_devs_of[tag]
                for k, v in _split(tot.status, n).items():
                    status[k] += v
                for k, v in _split(tot.errors, n).items():
                    errors[k] += v
        for tag in reversed(tags):  # the busiest runtime's latency wins
            latency = host.runtimes[tag].latency or latency
        ecc = host.ecc.get(dev, dict.fromkeys(ECC_EVENTS, 0.0))
        failed = ecc.get("mem_ecc_uncorrected", 0) + ecc.get("sram_ecc_uncorrected", 0) > 0
        utils = [c.utilization for c in logical]
        devices.append(DeviceDetail(
            device=dev, chip=dev, chip_name=spec.name if spec else (
                host.hardware.device_type if host.hardware else "") or "unknown",
            health="failed" if failed else "healthy", throttled=False, clock_ratio=1.0,
            temperature_celsius=NAN, power_watts=NAN, energy_joules=NAN,
            utilization=sum(utils) / max(len(utils), 1), hbm_used_bytes=hbm,
            hbm_total_bytes=host.memory_size,
            hbm_bandwidth_utilization=NAN, cores=physical, logical_cores=logical,
            ecc=dict(ecc), execution_status=status, execution_errors=errors,
            latency_seconds=dict(latency), links=[],
            job_id=job_of.get(tags[0], 0) if tags else 0))
    return NodeDetail(
        tick=host.reports, t=host.t, node=0, instance_id=host.instance_id,
        location=location(host), up=True, lnc=lnc, core_version=host.core_version,
        logical_cores_per_device=per_dev, host=_host(host), devices=devices,
        jobs=jobs(host, devices), processes=processes(host))


def processes(host: HostState) -> list[ProcessModel]:
    """One process per running runtime: neuron-monitor gives its pid and tag (no command
    line, no runtime version); what it holds comes from its own groups."""
    per_dev = host.cores_per_device
    out = []
    for tag, r in host.runtimes.items():
        used = host.used_cores(r)
        cores = r.cores or {}
        utils = [cores[c].utilization for c in used if c in cores]
        device = r.device_bytes if r.device_bytes is not None else sum(
            sum(cats.values()) for cats in r.core_memory.values())
        tot = host.totals.get(tag)
        user, system = r.vcpu or (0.0, 0.0)
        out.append(ProcessModel(
            pid=r.pid, runtime_tag=tag, command="", runtime_version="",
            job_id=tot.job_id if tot else 0, neuroncores=used,
            devices=sorted({c // per_dev for c in used}),
            utilization=sum(utils) / len(used) if used else 0.0,
            hbm_used_bytes=float(device), host_used_bytes=float(r.host_bytes or 0.0),
            vcpu_user_ratio=user, vcpu_system_ratio=system))
    return out


def _host(host: HostState) -> HostDetail:
    user, system = host.vcpu or (0.0, 0.0)
    r_user = sum(r.vcpu[0] for r in host.runtimes.values() if r.vcpu)
    r_system = sum(r.vcpu[1] for r in host.runtimes.values() if r.vcpu)
    mem = host.memory or {}
    return HostDetail(vcpus=host.vcpu_count, vcpu_user_ratio=user, vcpu_system_ratio=system,
                      runtime_vcpu_user_ratio=r_user, runtime_vcpu_system_ratio=r_system,
                      memory_total_bytes=mem.get("memory_total_bytes", 0.0),
                      memory_used_bytes=mem.get("memory_used_bytes", 0.0),
                      efa_tx_bytes=NAN, efa_rx_bytes=NAN)


def jobs(host: HostState, devices: list[DeviceDetail]) -> list[JobModel]:
    """One job per running runtime; MFU from its FLOP/s over the BF16 peak of the cores
    it uses."""
    spec = chip_spec(host.hardware)
    peak = spec.core_bf16_flops * host.lnc if spec else 0.0
    out = []
    for tag, r in host.runtimes.items():
        tot = host.totals.get(tag)
        if tot is None:
            continue
        cores = r.cores or {}
        used = host.used_cores(r)
        flops = sum(c.flops or 0.0 for c in cores.values())
        chips = len({d.device for d in devices if d.job_id == tot.job_id})
        p50 = (r.latency or {}).get("p50", 0.0)
        out.append(JobModel(
            job_id=tot.job_id, name=tag, kind="runtime", model=",".join(r.models) or "-",
            state="running", instance_ids=[host.instance_id], nodes=[0], chips=chips,
            step_seconds=p50, tokens_per_second=0.0, tokens_total=0.0,
            mfu=flops / (peak * len(used)) if peak and used else 0.0,
            steps=tot.status["completed"], progress=0.0, restarts=0,
            started_at=tot.first_t, submitted_at=tot.first_t))
    return out


def fleet_summary(host: HostState, detail: NodeDetail) -> FleetSummary:
    devs = detail.devices
    util = float(np.mean([d.utilization for d in devs])) if devs else 0.0
    used = sum(sum(d.hbm_used_bytes.values()) for d in devs)
    total = sum(d.hbm_total_bytes for d in devs)
    busy = sum(1 for d in devs if d.utilization > 0.05)
    unhealthy = sum(1 for d in devs if d.health != "healthy")
    worst = "failed" if unhealthy else "healthy"
    row = NodeRow(node=0, instance_id=detail.instance_id, location=detail.location, up=True,
                  chips=len(devs), busy_chips=busy, unhealthy_chips=unhealthy,
                  throttled_chips=0, utilization=util, hbm_used_bytes=used,
                  hbm_total_bytes=total, power_watts=NAN, temperature_max_celsius=NAN,
                  health=worst, job_ids=[j.job_id for j in detail.jobs])
    totals = FleetTotals(nodes=1, nodes_up=1, chips=len(devs), busy_chips=busy,
                         unhealthy_chips=unhealthy, throttled_chips=0, utilization=util,
                         hbm_used_bytes=used, hbm_total_bytes=total, power_watts=NAN,
                         jobs=len(detail.jobs), queued_jobs=0, active_faults=0)
    hbm = [sum(d.hbm_used_bytes.values()) / max(d.hbm_total_bytes, 1.0) for d in devs]
    heat = Heatmap.encode({"utilization": [d.utilization for d in devs], "hbm": hbm})
    return FleetSummary(source=SOURCE, fleet=detail.instance_id,
                        region=detail.location.region, tick=host.reports, t=host.t,
                        wall_time=host.wall_time, tick_duration_seconds=host.last_period,
                        totals=totals, nodes=[row], heatmap=heat, jobs=detail.jobs,
                        queued=[], faults=[], events=list(host.events))


class HostHistory:
    """Per-report rings for the node (and fleet, the same host) and each device."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self.t = Ring(window, (), np.float64)
        self.node = Ring(window, (3,), np.float64)  # utilization, hbm, busy chips
        self.devices: dict[int, Ring] = {}

    def record(self, detail: NodeDetail) -> None:
        devs = detail.devices
        self.t.push(detail.t)
        self.node.push([float(np.mean([d.utilization for d in devs])) if devs else 0.0,
                        sum(sum(d.hbm_used_bytes.values()) for d in devs),
                        sum(1 for d in devs if d.utilization > 0.05)])
        for d in devs:
            ring = self.devices.get(d.device)
            if ring is None:
                ring = self.devices[d.device] = Ring(self.window, (2,), np.float64)
                ring.count = self.t.count - 1  # rows before this device appeared read 0
            ring.push([d.utilization, sum(d.hbm_used_bytes.values())])

    def series(self, scope: str, instance_id: str) -> HistorySeries | None:
        t = self.t.ordered().tolist()
        node = self.node.ordered()
        if scope == "fleet":
            return HistorySeries(scope=scope, t=t, series={
                "utilization": node[:, 0].tolist(), "hbm_used_bytes": node[:, 1].tolist(),
                "busy_chips": node[:, 2].tolist()})
        iid, _, dev = scope.partition("/nd")
        if iid != instance_id:
            return None
        if not dev:
            return HistorySeries(scope=scope, t=t, series={
                "utilization": node[:, 0].tolist(), "hbm_used_bytes": node[:, 1].tolist()})
        ring = self.devices.get(int(dev)) if dev.isascii() and dev.isdigit() else None
        if ring is None:
            return None
        rows = ring.ordered()
        return HistorySeries(scope=scope, t=t[-len(rows):] if len(rows) else [], series={
            "utilization": rows[:, 0].tolist(), "hbm_used_bytes": rows[:, 1].tolist()})
