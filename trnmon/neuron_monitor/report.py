"""An emulated node's neuron-monitor report (reference §4), built from the v1 NodeDetail.

Working from `NodeDetail` (not the engine's arrays) lets one builder serve the embedded
engine, a daemon reached over HTTP and the daemon's own per-node route.

Counts are per period, as neuron-monitor reports them: the builder remembers the
cumulative counters (whole events, floored) at each group's previous report and emits
the difference; a group appears in a line only when its own period has elapsed, so a
consumer that adds up every line (AWS's Prometheus script) never counts twice. One
runtime is reported per job on the node, with the pid and tag of the job's runtime
process (`NodeDetail.processes`; the tag is the job's name, the exporter's
`runtime_tag`); a runtime first seen mid-stream is reported from the next period on.
As on a real host, every runtime lists every NeuronCore of the node (0 for the cores it
does not use) in `neuroncores_in_use` and `neuroncore_memory_usage`, and each core
carries `effective_flops` beside `flops`. UltraServer members report `ultraserver_id`.

Figures neuron-monitor has and the engine does not (per-CPU usage, the host-memory
breakdown, device latency, context switches) are derived from the node's own ratios.
"""

from __future__ import annotations

import hashlib
import math
import threading
import weakref
from collections import OrderedDict
from typing import Any

from trnmon.api.models import DeviceDetail, JobModel, NodeDetail
from trnmon.api.views import node_detail
from trnmon.hw.catalog import INSTANCE_TYPE_BY_NAME
from trnmon.neuron_monitor.config import MonitorConfig
from trnmon.neuron_monitor.identity import Identity, topology_identity
from trnmon.neuron_monitor.schema import (
    HOST_MEMORY,
    HOST_MEMORY_SHARE,
    SUBGRAPH_DEVICE,
    VCPU_FIELDS,
)
from trnmon.sim.rules import runtime_host_bytes
from trnmon.sim.state import ECC_EVENTS, EXECUTION_ERRORS, EXECUTION_STATUS, LATENCY_PERCENTILES
from trnmon.snapshot import FleetSnapshot

Json = dict[str, Any]
DEVICE_LATENCY_SHARE = 0.92  # device time as a share of total execution latency (emulated)
SYSTEM_SPLIT = {"system": 0.7, "io_wait": 0.1, "irq": 0.05, "soft_irq": 0.15}
CONTEXT_SWITCHES_PER_BUSY_CPU_S = 4000.0
_EPS = 1e-6


def hardware_info(detail: NodeDetail) -> Json:
    """`neuron_hardware_info` for the node's instance type and LNC."""
    chip = INSTANCE_TYPE_BY_NAME[detail.location.instance_type].chip_spec
    info: Json = {
        "neuron_device_type": chip.neuron_device_type,
        "neuron_device_version": chip.neuron_device_version,
        "neuroncore_version": detail.core_version,
        "neuron_device_count": len(detail.devices),
        "neuron_device_memory_size": chip.hbm_bytes,
        "neuroncore_per_device_count": detail.logical_cores_per_device,
    }
    # Real trn1/inf2 hosts report 1 here too (LNC itself is Trn2-only).
    info["logical_neuroncore_config"] = detail.lnc if chip.supports_lnc else 1
    info["error"] = ""
    return info


def instance_info(detail: NodeDetail, ident: Identity) -> Json:
    """`instance_info`; UltraServer members (trn2u) also carry `ultraserver_id`, as real
    UltraServer hosts do."""
    loc = detail.location
    info: Json = {"instance_name": ident.instance_name, "instance_id": detail.instance_id,
                  "instance_type": loc.instance_type,
                  "instance_availability_zone": loc.availability_zone,
                  "instance_availability_zone_id": loc.availability_zone_id,
                  "instance_region": loc.region,
                  "ami_id": ident.ami_id or Identity.ami_for(loc.region),
                  "subnet_id": ident.subnet_id}
    if ident.ultraserver_id:
        info["ultraserver_id"] = ident.ultraserver_id
    info["error"] = ""
    return info


def _floor(values: dict[str, float], keys: tuple[str, ...]) -> list[float]:
    return [float(math.floor(values.get(k, 0.0) + _EPS)) for k in keys]


def _sum_counts(devs: list[DeviceDetail], attr: str, keys: tuple[str, ...]) -> list[float]:
    total = [0.0] * len(keys)
    for d in devs:
        for i, v in enumerate(_floor(getattr(d, attr), keys)):
            total[i] += v
    return total


def _runtime_devices(detail: NodeDetail) -> list[tuple[JobModel, list[DeviceDetail]]]:
    out = []
    for job in detail.jobs:
        devs = [d for d in detail.devices if d.job_id == job.job_id]
        if devs:
            out.append((job, devs))
    return out


class ReportBuilder:
    """Builds successive report lines for one node; holds each group's last counters."""

    def __init__(self, config: MonitorConfig, ident: Identity) -> None:
        self.config = config
        self.ident = ident
        self._last_t: dict[str, float] = {}
        self._base: dict[str, list[float]] = {}

    def prime(self, detail: NodeDetail) -> None:
        """Start every group's first period at this detail (nothing is emitted)."""
        self._visit(detail, prime=True)

    def build(self, detail: NodeDetail, *, force: bool = False) -> Json:
        """The next report: groups whose period has elapsed (all of them with `force`)."""
        runtime_data, system = self._visit(detail, force=force)
        return {"neuron_runtime_data": runtime_data, "system_data": system,
                "instance_info": instance_info(detail, self.ident),
                "neuron_hardware_info": hardware_info(detail)}

    # --- bookkeeping ---------------------------------------------------------------------
    def _due(self, key: str, t: float, period: float, force: bool, prime: bool
             ) -> float | None:
        """The elapsed period if group `key` reports now, else None (and first sight
        starts its period now)."""
        last = self._last_t.get(key)
        if prime or last is None:
            self._last_t[key] = t
            return 0.0 if force and not prime else None
        if force or t - last >= period - _EPS:
            self._last_t[key] = t
            return t - last
        return None

    def _delta(self, key: str, current: list[float]) -> list[int]:
        base = self._base.get(key, current)
        self._base[key] = current
        return [int(max(c - b, 0.0)) for c, b in zip(current, base, strict=True)]

    def _visit(self, detail: NodeDetail, *, force: bool = False, prime: bool = False
               ) -> tuple[list[Json], Json]:
        t = detail.t
        runtimes: list[Json] = []
        active = _runtime_devices(detail) if detail.up else []
        procs = {p.job_id: p for p in detail.processes}
        for job, devs in active:
            rule = self.config.rule_for(job.name)
            if rule is None:
                continue
            report: Json = {}
            for group, period in rule.groups.items():
                key = f"rt/{job.job_id}/{group}"
                if group == "execution_stats":
                    counts = (_sum_counts(devs, "execution_status", EXECUTION_STATUS)
                              + _sum_counts(devs, "execution_errors", EXECUTION_ERRORS))
                    if prime or key not in self._last_t:
                        self._base[key] = counts
                elapsed = self._due(key, t, period, force, prime)
                if elapsed is None:
                    continue
                if group == "execution_stats":
                    report[group] = self._execution(key, elapsed, counts, devs)
                else:
                    report[group] = self._runtime_group(group, elapsed, detail, job, devs,
                                                        len(active))
            if report:
                proc = procs.get(job.job_id)
                runtimes.append({"pid": proc.pid if proc else 10000 + job.job_id,
                                 "address": "",
                                 "neuron_runtime_tag": proc.runtime_tag if proc else job.name,
                                 "error": "", "report": report})
        live = {f"rt/{job.job_id}/" for job, _ in active}
        for key in [k for k in self._last_t if k.startswith("rt/")
                    and k[:k.rindex("/") + 1] not in live]:
            self._last_t.pop(key)
            self._base.pop(key, None)
        system: Json = {}
        for group, period in self.config.system.items():
            key = f"sys/{group}"
            if group == "neuron_hw_counters":
                ecc = [c for d in detail.devices for c in _floor(d.ecc, ECC_EVENTS)]
                if prime or key not in self._last_t:
                    self._base[key] = ecc
            elapsed = self._due(key, t, period, force, prime)
            if elapsed is None:
                continue
            if group == "neuron_hw_counters":
                system[group] = self._hw_counters(key, elapsed, ecc, detail)
            elif group == "vcpu_usage":
                system[group] = vcpu_usage(detail, elapsed)
            else:
                h = detail.host
                system[group] = {"period": elapsed, "error": "",
                                 "memory_total_bytes": int(h.memory_total_bytes),
                                 "memory_used_bytes": int(h.memory_used_bytes),
                                 "swap_total_bytes": 0, "swap_used_bytes": 0}
        return runtimes, system

    # --- groups ----------------------------------------------------------------------------
    def _execution(self, key: str, elapsed: float, counts: list[float],
                   devs: list[DeviceDetail]) -> Json:
        delta = self._delta(key, counts)
        ns = len(EXECUTION_STATUS)
        status = dict(zip(EXECUTION_STATUS, delta[:ns], strict=True))
        errors = dict(zip(EXECUTION_ERRORS, delta[ns:], strict=True))
        ran = [d.latency_seconds for d in devs if d.latency_seconds.get("p50", 0.0) > 0]
        total = device = None
        if sum(status.values()) > 0 and ran:
            total = {p: sum(r.get(p, 0.0) for r in ran) / len(ran)
                     for p in LATENCY_PERCENTILES}
            device = {p: v * DEVICE_LATENCY_SHARE for p, v in total.items()}
        return {"period": elapsed, "error": "", "error_summary": errors,
                "execution_summary": status,
                "latency_stats": {"total_latency": total, "device_latency": device}}

    def _hw_counters(self, key: str, elapsed: float, ecc: list[float],
                     detail: NodeDetail) -> Json:
        if not detail.up:
            self._base[key] = ecc
            return {"period": elapsed, "error": "no neuron devices found",
                    "neuron_devices": None}
        delta = self._delta(key, ecc)
        n = len(ECC_EVENTS)
        devices = []
        for i, d in enumerate(detail.devices):
            row: Json = {"neuron_device_index": d.device}
            row.update(zip(ECC_EVENTS, delta[i * n:(i + 1) * n], strict=True))
            devices.append(row)
        return {"period": elapsed, "error": "", "neuron_devices": devices}

    def _runtime_group(self, group: str, elapsed: float, detail: NodeDetail, job: JobModel,
                       devs: list[DeviceDetail], n_runtimes: int) -> Json:
        if group == "neuroncore_counters":
            # Like real neuron-monitor, every runtime lists every core of the node: the
            # cores it does not use read 0.
            mine = {d.device for d in devs}
            cores: Json = {}
            for d in detail.devices:
                used = d.device in mine
                for lc in d.logical_cores:
                    flops = lc.flops if used else 0.0
                    entry: Json = {"neuroncore_utilization":
                                   lc.utilization * 100.0 if used else 0.0,
                                   "flops": flops, "effective_flops": flops}
                    if detail.core_version == "v3d":
                        entry["v3d"] = {
                            f"nc_v3.{lc.neuroncore * detail.lnc + k}": {
                                "neuroncore_utilization":
                                    d.cores[p].utilization * 100.0 if used else 0.0}
                            for k, p in enumerate(lc.physical)}
                    cores[str(lc.neuroncore)] = entry
            return {"period": elapsed, "error": "", "neuroncores_in_use": cores}
        if group == "neuron_runtime_vcpu_usage":
            h = detail.host
            return {"period": elapsed, "error": "", "vcpu_usage": {
                "user": h.runtime_vcpu_user_ratio * 100.0 / n_runtimes,
                "system": h.runtime_vcpu_system_ratio * 100.0 / n_runtimes}}
        return memory_used(detail, job, devs, n_runtimes, elapsed)


def memory_used(detail: NodeDetail, job: JobModel, devs: list[DeviceDetail],
                n_runtimes: int, elapsed: float) -> Json:
    """`memory_used`: the runtime's host and device memory, per core and per subgraph."""
    host_total = runtime_host_bytes(job.kind) if detail.up else 0.0
    del n_runtimes  # each runtime reports its own, not a share of the node's memory
    per_core: Json = {}
    subgraphs: Json = {}
    host_per_sub = host_total / max(sum(len(d.logical_cores) for d in devs), 1)
    device_total = 0
    mine = {d.device for d in devs}
    for d in detail.devices:  # every core of the node; other runtimes' cores read 0
        if d.device not in mine:
            for lc in d.logical_cores:
                per_core[str(lc.neuroncore)] = dict.fromkeys(d.hbm_used_bytes, 0)
    for d in devs:
        share = 1.0 / max(len(d.logical_cores), 1)
        for lc in d.logical_cores:
            cats = {k: int(v * share) for k, v in d.hbm_used_bytes.items()}
            per_core[str(lc.neuroncore)] = cats
            device_total += sum(cats.values())
            subgraphs[f"sg_{len(subgraphs):02d}"] = {
                "memory_used_bytes": {
                    "host": int(host_per_sub),
                    "neuron_device": sum(cats[k] for k in SUBGRAPH_DEVICE),
                    "usage_breakdown": {
                        "host": _host_breakdown(host_per_sub),
                        "neuron_device": {k: cats[k] for k in SUBGRAPH_DEVICE}}},
                "neuroncore_index": lc.neuroncore, "neuron_device_index": d.device}
    uid = hashlib.blake2b(f"{detail.instance_id}/{job.job_id}".encode(), digest_size=16
                          ).hexdigest()
    model = {"name": f"{job.model}.neff", "uuid": uid, "model_id": 10000 + job.job_id,
             "is_running": job.state == "running", "subgraphs": subgraphs}
    return {"period": elapsed, "error": "", "neuron_runtime_used_bytes": {
        "host": int(host_total), "neuron_device": device_total,
        "usage_breakdown": {"host": _host_breakdown(host_total),
                            "neuroncore_memory_usage": dict(sorted(
                                per_core.items(), key=lambda kv: int(kv[0])))}},
        "loaded_models": [model]}


def _host_breakdown(total: float) -> Json:
    parts = {k: int(total * HOST_MEMORY_SHARE[k]) for k in HOST_MEMORY}
    parts["tensors"] += int(total) - sum(parts.values())  # the parts add up exactly
    return parts


def _cpu_fields(user: float, system: float) -> Json:
    """Percent fields of one CPU (or the average) from user and system percentages."""
    fields = {"user": user, "nice": 0.0}
    fields.update({k: system * s for k, s in SYSTEM_SPLIT.items()})
    fields["idle"] = max(0.0, 100.0 - user - system)
    return {k: round(fields[k], 2) for k in VCPU_FIELDS}


def vcpu_usage(detail: NodeDetail, elapsed: float) -> Json:
    """`vcpu_usage`: the node's average, and one entry per vCPU that averages back to it
    (even CPUs busier by `d`, odd ones idler, `d` bounded so no CPU passes 100 %)."""
    h = detail.host
    user, system = h.vcpu_user_ratio * 100.0, h.vcpu_system_ratio * 100.0
    busy = user + system
    d = min(0.5, 100.0 / busy - 1.0) if busy > 0 else 0.0
    n = h.vcpus
    usage = {}
    for cpu in range(n):
        f = 1.0 if (n % 2 and cpu == n - 1) else (1.0 + d if cpu % 2 == 0 else 1.0 - d)
        usage[str(cpu)] = _cpu_fields(user * f, system * f)
    switches = int(n * busy / 100.0 * elapsed * CONTEXT_SWITCHES_PER_BUSY_CPU_S)
    return {"period": elapsed, "error": "", "average_usage": _cpu_fields(user, system),
            "usage_data": usage, "context_switch_count": switches}


class NodeReporter:
    """Per-node report builders for a server (the daemon): each request for a node
    reports the counts since the previous request for that node (the first: none)."""

    MAX_NODES = 4096  # builders kept; the least recently asked-for node is dropped first

    def __init__(self, config: MonitorConfig | None = None) -> None:
        self.config = config or MonitorConfig.default()
        self._builders: OrderedDict[int, ReportBuilder] = OrderedDict()
        self._lock = threading.Lock()

    def report(self, snap: FleetSnapshot, node: int) -> Json:
        """The node's report from a FleetSnapshot."""
        detail = node_detail(snap, node)
        with self._lock:
            builder = self._builders.get(node)
            if builder is None:
                builder = ReportBuilder(self.config, topology_identity(snap.topology, node))
                self._builders[node] = builder
                while len(self._builders) > self.MAX_NODES:
                    self._builders.popitem(last=False)
            self._builders.move_to_end(node)
            return builder.build(detail, force=True)


_REPORTERS: weakref.WeakKeyDictionary[object, NodeReporter] = weakref.WeakKeyDictionary()


def reporter_for(owner: object) -> NodeReporter:
    """The NodeReporter of a server object (the daemon's runner), made on first use."""
    rep = _REPORTERS.get(owner)
    if rep is None:
        rep = _REPORTERS.setdefault(owner, NodeReporter())
    return rep
