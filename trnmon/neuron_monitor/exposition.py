"""The exporter's metric catalog for a real host, rendered from neuron-monitor data.

Reuses the exporter's template builder (`trnmon.exporter.layout.build_template`), so
names, types, help, label order and number formatting are the emulated exporter's. Only
metrics whose data neuron-monitor provides are exported: temperature, power, energy,
clocks, health, HBM bandwidth, engine activity, NeuronLink, EFA and job metrics are
omitted, never faked; ECC, host vCPU and memory appear once their group has been seen.

Per-runtime metrics carry each runtime's tag; cores no runtime uses, and the runtime
metrics of an idle host, read zero under `runtime_tag="none"`, as for emulated nodes.
Counters are the sums of neuron-monitor's per-period counts since the exporter started.
"""

from __future__ import annotations

from trnmon.exporter.catalog import BY_NAME, CATALOG, Metric
from trnmon.exporter.layout import IDLE_RUNTIME_TAG, build_template
from trnmon.neuron_monitor.host import HostState
from trnmon.sim.state import (
    ECC_EVENTS,
    EXECUTION_ERRORS,
    EXECUTION_STATUS,
    HBM_CATEGORIES,
    LATENCY_PERCENTILES,
)

CORE_METRICS = ("neuroncore_utilization_ratio", "neuroncore_flops",
                *(f"neuroncore_memory_usage_{c}" for c in sorted(HBM_CATEGORIES)))
RUNTIME_METRICS = ("neuron_runtime_memory_used_bytes", "neuron_runtime_vcpu_usage_ratio",
                   "execution_status_total", "execution_errors_total",
                   "execution_latency_seconds")
DEVICE_METRICS = ("neuron_device_hbm_used_bytes", "neuron_device_hbm_total_bytes")
VCPU_METRICS = ("system_vcpu_count", "system_vcpu_usage_ratio")
MEMORY_METRICS = ("system_memory_total_bytes", "system_memory_used_bytes",
                  "system_swap_total_bytes", "system_swap_used_bytes")
# Everything else in the catalog has no neuron-monitor source.
PROVIDED = frozenset((*CORE_METRICS, *RUNTIME_METRICS, *DEVICE_METRICS, *VCPU_METRICS,
                      *MEMORY_METRICS, "hardware_ecc_events_total", "instance_info",
                      "neuron_hardware_info"))


def available(host: HostState) -> tuple[Metric, ...]:
    """Catalog metrics this host's reports so far can fill, in catalog order."""
    names = {"instance_info", *RUNTIME_METRICS}
    if host.hardware is not None:
        names.add("neuron_hardware_info")
    if host.device_count * host.cores_per_device > 0:
        names.update(CORE_METRICS)
        names.add("neuron_device_hbm_used_bytes")
        if host.hardware is not None and host.hardware.memory_size > 0:
            names.add("neuron_device_hbm_total_bytes")
    if host.ecc_seen and host.device_count:
        names.add("hardware_ecc_events_total")
    if host.vcpu is not None:
        names.update(VCPU_METRICS)
    if host.memory is not None:
        names.update(MEMORY_METRICS)
    return tuple(m for m in CATALOG if m.name in names)


def context(host: HostState) -> dict[str, str]:
    i, hw = host.instance, host.hardware
    ctx = {"instance_name": i.get("instance_name", ""), "instance_id": host.instance_id,
           "instance_type": i.get("instance_type", ""),
           "availability_zone": i.get("instance_availability_zone", ""),
           "region": i.get("instance_region", ""), "subnet_id": i.get("subnet_id", "")}
    if hw is not None:
        ctx["neuron_device_count"] = str(host.device_count)
        ctx["neuroncore_per_device_count"] = str(host.cores_per_device)
    return ctx


class HostExposition:
    """Renders a HostState; the template is rebuilt only when labels or metrics change."""

    def __init__(self) -> None:
        self._key: object = None
        self._template = ""
        self.series = 0

    def render(self, host: HostState) -> str:
        metrics = available(host)
        ctx = context(host)
        per_dev = host.cores_per_device
        n_cores = host.device_count * per_dev
        owner = host.core_owner()
        tags = sorted(host.runtimes) or [IDLE_RUNTIME_TAG]
        core_tags = [owner.get(c, IDLE_RUNTIME_TAG) for c in range(n_cores)]
        key = (tuple(m.name for m in metrics), tuple(ctx.items()), tuple(tags),
               tuple(core_tags), host.device_count)
        if key != self._key:
            def items(m: Metric, scope_part: tuple[str, ...]) -> list[dict[str, str]]:
                if m.scope == "core":
                    return [{"runtime_tag": core_tags[c], "neuroncore": str(c),
                             "neuron_device": str(c // per_dev)} for c in range(n_cores)]
                if m.scope == "device":
                    return [{"neuron_device": str(d), "neuron_device_index": str(d)}
                            for d in range(host.device_count)]
                if "runtime_tag" in scope_part:
                    return [{"runtime_tag": t} for t in tags]
                return [{}]

            self._template, counts = build_template(metrics, ctx, items)
            self.series = sum(counts.values())
            self._key = key
        values: list[float] = []
        for m in metrics:
            values.extend(_values(m.name, host, tags, n_cores))
        return self._template % tuple(values)


def _values(name: str, host: HostState, tags: list[str], n_cores: int) -> list[float]:
    """One metric's values in template order (scope items outer, enum values inner)."""
    runtimes = [host.runtimes.get(t) for t in tags]
    if name in RUNTIME_METRICS:
        out: list[float] = []
        for tag, r in zip(tags, runtimes, strict=True):
            tot = host.totals.get(tag) if r is not None else None
            if name == "neuron_runtime_memory_used_bytes":
                out += [(r.host_bytes or 0.0) if r else 0.0, (r.device_bytes or 0.0) if r else 0.0]
            elif name == "neuron_runtime_vcpu_usage_ratio":
                out += list(r.vcpu) if r and r.vcpu else [0.0, 0.0]
            elif name == "execution_status_total":
                out += [tot.status[k] if tot else 0.0 for k in EXECUTION_STATUS]
            elif name == "execution_errors_total":
                out += [tot.errors[k] if tot else 0.0 for k in EXECUTION_ERRORS]
            else:
                lat = (r.latency if r else None) or {}
                out += [float(lat.get(p, 0.0)) for p in LATENCY_PERCENTILES]
        return out
    owner = host.core_owner()
    memory = host.core_memory()
    per_dev = host.cores_per_device

    def core(c: int) -> tuple[float, float]:
        r = host.runtimes.get(owner.get(c, ""))
        s = (r.cores or {}).get(c) if r else None
        return (s.utilization, s.flops or 0.0) if s else (0.0, 0.0)

    if name == "neuroncore_utilization_ratio":
        return [core(c)[0] for c in range(n_cores)]
    if name == "neuroncore_flops":
        return [core(c)[1] for c in range(n_cores)]
    if name.startswith("neuroncore_memory_usage_"):
        cat = name.removeprefix("neuroncore_memory_usage_")
        return [memory.get(c, {}).get(cat, 0.0) for c in range(n_cores)]
    if name == "neuron_device_hbm_used_bytes":
        return [sum(sum(memory.get(c, {}).values()) for c in range(d * per_dev, (d + 1) * per_dev))
                for d in range(host.device_count)]
    if name == "neuron_device_hbm_total_bytes":
        return [host.hardware.memory_size if host.hardware else 0.0] * host.device_count
    if name == "hardware_ecc_events_total":
        return [host.ecc.get(d, {}).get(e, 0.0) for d in range(host.device_count)
                for e in ECC_EVENTS]
    if name == "system_vcpu_count":
        return [float(host.vcpu_count)]
    if name == "system_vcpu_usage_ratio":
        return list(host.vcpu or (0.0, 0.0))
    mem = host.memory or {}
    simple = {"system_memory_total_bytes": "memory_total_bytes",
              "system_memory_used_bytes": "memory_used_bytes",
              "system_swap_total_bytes": "swap_total_bytes",
              "system_swap_used_bytes": "swap_used_bytes"}
    if name in simple:
        return [float(mem.get(simple[name], 0.0))]
    assert BY_NAME[name].type == "info", name
    return [1.0]
