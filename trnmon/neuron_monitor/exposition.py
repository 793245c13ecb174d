"""The exporter's metric catalog for a real host, rendered from neuron-monitor data.

Reuses the exporter's template builder (`trnmon.exporter.layout.build_template`), so
names, types, help, label order and number formatting are the emulated exporter's. Only
metrics whose data neuron-monitor provides are exported: temperature, power, energy,
clocks, health, HBM bandwidth, engine activity, NeuronLink, EFA and job metrics are
omitted, never faked; ECC, host vCPU and memory appear once their group has been seen.

Series follow AWS's `neuron-monitor-prometheus.py` for the same input:

* per-core metrics have one series per (runtime_tag, neuroncore) the runtime lists
  (every runtime lists every core, 0 where it does not run), so a host of 32 one-core
  runtimes reads each core's load under the runtime that runs it; per-core memory is
  per runtime too, for the cores its memory breakdown lists; trnmon's
  `neuroncore_flops` (no runtime_tag) is per core, summed over runtimes;
* latency has a series only for a runtime that has reported one (a `null` group keeps
  the last value, and before any there is none);
* a group reported with an `error`, or a runtime with an `error`, is not used;
* an idle host (no runtime) has no per-core or per-runtime series. `idle_zeros=True`
  (`trnmon exporter --idle-zeros`) instead exports them as zeros under
  `runtime_tag="none"`, as the emulated exporter does (latency aside: nothing ran),
  which lowers the fleet averages AWS users compute, so it is off by default;
* when `instance_info` has `ultraserver_id`, every series carries it.

Counters are the sums of neuron-monitor's per-period counts since the exporter started
(AWS's script also resets them when the host goes idle; trnmon keeps them monotonic).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from trnmon.exporter.catalog import BY_NAME, CATALOG, Metric
from trnmon.exporter.layout import IDLE_RUNTIME_TAG, build_template
from trnmon.exporter.samples import sample_values
from trnmon.neuron_monitor.host import HostState
from trnmon.neuron_monitor.parse import RuntimeSample
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
ULTRASERVER_LABEL = "ultraserver_id"

Item = dict[str, str]
# One (series group, value) row per scope item of a metric: built together so the
# label text and the values can never fall out of step.
Rows = list[tuple[Item, list[float]]]


def available(host: HostState, *, idle_zeros: bool = False) -> tuple[Metric, ...]:
    """Catalog metrics this host's reports so far can fill, in catalog order."""
    names = {"instance_info"}
    if host.runtimes or idle_zeros:
        names.update(RUNTIME_METRICS)
    if host.hardware is not None:
        names.add("neuron_hardware_info")
    if host.device_count * host.cores_per_device > 0:
        if host.runtimes or idle_zeros:
            names.update(CORE_METRICS)
        names.add("neuron_device_hbm_used_bytes")
        if host.memory_size > 0:
            names.add("neuron_device_hbm_total_bytes")
    if host.ecc:
        names.add("hardware_ecc_events_total")
    if host.vcpu is not None:
        names.update(VCPU_METRICS)
    if host.memory is not None:
        names.update(MEMORY_METRICS)
    ultra = bool(host.instance.get(ULTRASERVER_LABEL))
    return tuple(dataclasses.replace(m, node_extra=(ULTRASERVER_LABEL,)) if ultra else m
                 for m in CATALOG if m.name in names)


def context(host: HostState) -> dict[str, str]:
    i, hw = host.instance, host.hardware
    ctx = {"instance_name": i.get("instance_name", ""), "instance_id": host.instance_id,
           "instance_type": i.get("instance_type", ""),
           "availability_zone": i.get("instance_availability_zone", ""),
           "region": i.get("instance_region", ""), "subnet_id": i.get("subnet_id", "")}
    if i.get(ULTRASERVER_LABEL):
        ctx[ULTRASERVER_LABEL] = i[ULTRASERVER_LABEL]
    if hw is not None:
        ctx["neuron_device_count"] = str(host.device_count)
        ctx["neuroncore_per_device_count"] = str(host.cores_per_device)
    return ctx


class HostExposition:
    """Renders a HostState; the template is rebuilt only when labels or metrics change."""

    def __init__(self, *, idle_zeros: bool = False) -> None:
        self.idle_zeros = idle_zeros
        self._key: object = None
        self._template = ""
        self.series = 0

    def render(self, host: HostState) -> str:
        metrics = available(host, idle_zeros=self.idle_zeros)
        ctx = context(host)
        rows = {m.name: _rows(m.name, host, self.idle_zeros) for m in metrics}
        key = (tuple(m.name for m in metrics), tuple(ctx.items()),
               tuple((name, tuple(tuple(item.items()) for item, _ in r))
                     for name, r in rows.items()))
        if key != self._key:
            parts, total = [], 0
            for m in metrics:
                items = [item for item, _ in rows[m.name]]
                text, counts = build_template([m], ctx, _fixed(items))
                parts.append(text)
                total += counts[m.name]
            self._template, self.series, self._key = "".join(parts), total, key
        values = [v for m in metrics for _, vals in rows[m.name] for v in vals]
        return self._template % sample_values(values)


def _fixed(items: list[Item]) -> Callable[[Metric, tuple[str, ...]], list[Item]]:
    def scope_items(m: Metric, scope_part: tuple[str, ...]) -> list[Item]:
        del m, scope_part
        return items
    return scope_items


def _core_rows(host: HostState, idle_zeros: bool,
               cores_of: Callable[[RuntimeSample], dict[int, float]]) -> Rows:
    """(runtime_tag, core) series: each runtime's listed cores, or zeros when idle."""
    per_dev = host.cores_per_device
    rows: Rows = []
    if not host.runtimes:
        if idle_zeros:
            rows = [({"runtime_tag": IDLE_RUNTIME_TAG, "neuroncore": str(c),
                      "neuron_device": str(c // per_dev)}, [0.0])
                    for c in range(host.device_count * per_dev)]
        return rows
    for tag in sorted(host.runtimes):
        for core, value in sorted(cores_of(host.runtimes[tag]).items()):
            rows.append(({"runtime_tag": tag, "neuroncore": str(core),
                          "neuron_device": str(core // per_dev)}, [value]))
    return rows


def _runtime_rows(host: HostState, idle_zeros: bool, size: int,
                  values: Callable[[str, RuntimeSample], list[float] | None]) -> Rows:
    """One series group per running runtime (None: that runtime has no such series)."""
    if not host.runtimes:
        return [({"runtime_tag": IDLE_RUNTIME_TAG}, [0.0] * size)] if idle_zeros else []
    rows: Rows = []
    for tag in sorted(host.runtimes):
        vals = values(tag, host.runtimes[tag])
        if vals is not None:
            rows.append(({"runtime_tag": tag}, vals))
    return rows


def _rows(name: str, host: HostState, idle_zeros: bool) -> Rows:
    """A metric's series groups and values (enum values inner), in exposition order."""
    if name == "neuroncore_utilization_ratio":
        return _core_rows(host, idle_zeros, lambda r: {
            c: s.utilization for c, s in (r.cores or {}).items()})
    if name == "neuroncore_flops":  # trnmon's extension has no runtime_tag: per core
        per_dev = host.cores_per_device
        if not host.runtimes:
            cores = dict.fromkeys(range(host.device_count * per_dev), 0.0) if idle_zeros else {}
        else:
            cores = {c: s.flops or 0.0 for c, s in host.core_load().items()}
        return [({"neuroncore": str(c), "neuron_device": str(c // per_dev)}, [v])
                for c, v in sorted(cores.items())]
    if name.startswith("neuroncore_memory_usage_"):
        cat = name.removeprefix("neuroncore_memory_usage_")
        return _core_rows(host, idle_zeros, lambda r: {
            c: cats.get(cat, 0.0) for c, cats in r.core_memory.items()})
    if name in RUNTIME_METRICS:
        if name == "execution_latency_seconds" and not host.runtimes:
            return []  # nothing ran: no latency, not a latency of 0
        return _runtime_rows(host, idle_zeros, BY_NAME[name].enum_size,
                             lambda tag, r: _runtime_values(name, host, tag, r))
    per_dev, n_dev = host.cores_per_device, host.device_count
    if name in DEVICE_METRICS or name == "hardware_ecc_events_total":
        if name == "neuron_device_hbm_used_bytes":
            memory = host.core_memory()
            vals = [[sum(sum(memory.get(c, {}).values())
                         for c in range(d * per_dev, (d + 1) * per_dev))] for d in range(n_dev)]
        elif name == "neuron_device_hbm_total_bytes":
            vals = [[host.memory_size]] * n_dev
        else:  # the devices neuron_hw_counters has listed, as AWS's script exports
            return [({"neuron_device": str(d), "neuron_device_index": str(d)},
                     [host.ecc[d].get(e, 0.0) for e in ECC_EVENTS]) for d in sorted(host.ecc)]
        return [({"neuron_device": str(d), "neuron_device_index": str(d)}, v)
                for d, v in enumerate(vals)]
    return [({}, _node_values(name, host))]


def _runtime_values(name: str, host: HostState, tag: str, r: RuntimeSample
                    ) -> list[float] | None:
    tot = host.totals.get(tag)
    if name == "neuron_runtime_memory_used_bytes":
        if r.host_bytes is None and r.device_bytes is None:
            return None
        return [r.host_bytes or 0.0, r.device_bytes or 0.0]
    if name == "neuron_runtime_vcpu_usage_ratio":
        return list(r.vcpu) if r.vcpu else None
    if name == "execution_status_total":
        return [tot.status[k] for k in EXECUTION_STATUS] if tot and tot.executions_seen else None
    if name == "execution_errors_total":
        return [tot.errors[k] for k in EXECUTION_ERRORS] if tot and tot.executions_seen else None
    lat = r.latency
    return [float(lat[p]) for p in LATENCY_PERCENTILES] if lat else None


def _node_values(name: str, host: HostState) -> list[float]:
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
