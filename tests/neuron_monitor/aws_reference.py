"""AWS's documented neuron-monitor -> Prometheus mapping, as a test oracle.

Written from the metric table of reference §5 (trainium2-and-neuron-tools.md) and the
behaviour AWS's `neuron-monitor-prometheus.py` documents, not from trnmon's code:

* base labels instance_name, instance_id, instance_type, availability_zone, region,
  subnet_id, plus `ultraserver_id` when instance_info has it; per-runtime series add
  runtime_tag;
* a runtime whose `error` is set is skipped, so is any group whose `error` is set;
* per-core series: one per (runtime, core) the runtime lists; memory per core carries
  memory_location="None";
* latency: total_latency only, and nothing when it is null (the gauge keeps its value);
* counters add each line's per-period counts; gauges keep their last value;
* an idle line (no runtime) clears every gauge and counter; system groups then refill.

`samples(lines)` gives {(family, frozenset(labels)): value} after feeding the lines.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]
Key = tuple[str, frozenset[tuple[str, str]]]
CORE_MEMORY = ("constants", "model_code", "model_shared_scratchpad", "runtime_memory",
               "tensors")
ECC = ("mem_ecc_corrected", "mem_ecc_uncorrected", "sram_ecc_corrected",
       "sram_ecc_uncorrected")
COUNTERS = ("execution_errors_total", "execution_status_total", "hardware_ecc_events_total")


def base_labels(info: Json) -> dict[str, str]:
    labels = {"instance_name": info["instance_name"], "instance_id": info["instance_id"],
              "instance_type": info["instance_type"],
              "availability_zone": info["instance_availability_zone"],
              "region": info["instance_region"], "subnet_id": info["subnet_id"]}
    if "ultraserver_id" in info:
        labels["ultraserver_id"] = info["ultraserver_id"]
    return labels


class AwsExporter:
    def __init__(self) -> None:
        self.values: dict[Key, float] = {}

    def _set(self, name: str, labels: dict[str, Any], value: float) -> None:
        self.values[(name, frozenset((k, str(v)) for k, v in labels.items()))] = float(value)

    def _inc(self, name: str, labels: dict[str, Any], value: float) -> None:
        key = (name, frozenset((k, str(v)) for k, v in labels.items()))
        self.values[key] = self.values.get(key, 0.0) + float(value)

    def feed(self, doc: Json) -> None:
        base = base_labels(doc["instance_info"])
        runtimes = doc.get("neuron_runtime_data") or []
        if not runtimes:
            self.values = {k: v for k, v in self.values.items()
                           if k[0] in ("instance_info", "neuron_hardware_info")}
        for rt in runtimes:
            if rt["error"]:
                continue
            labels = {**base, "runtime_tag": rt["neuron_runtime_tag"]}
            for group, data in rt["report"].items():
                if data["error"] == "":
                    self._runtime_group(group, data, labels)
        for group, data in (doc.get("system_data") or {}).items():
            if data is not None and data["error"] == "":
                self._system_group(group, data, base)
        self._set("instance_info", base, 1)
        hw = doc.get("neuron_hardware_info")
        if hw is not None:
            self._set("neuron_hardware_info", {
                **base, "neuron_device_count": hw["neuron_device_count"],
                "neuroncore_per_device_count": hw["neuroncore_per_device_count"]}, 1)

    def _runtime_group(self, group: str, data: Json, labels: dict[str, Any]) -> None:
        if group == "neuroncore_counters":
            for nc, c in data["neuroncores_in_use"].items():
                self._set("neuroncore_utilization_ratio", {**labels, "neuroncore": int(nc)},
                          c["neuroncore_utilization"] / 100.0)
        elif group == "neuron_runtime_vcpu_usage":
            for usage in ("user", "system"):
                self._set("neuron_runtime_vcpu_usage_ratio", {**labels, "usage_type": usage},
                          data["vcpu_usage"][usage] / 100.0)
        elif group == "memory_used":
            used = data["neuron_runtime_used_bytes"]
            for where in ("host", "neuron_device"):
                self._set("neuron_runtime_memory_used_bytes",
                          {**labels, "memory_location": where}, used[where])
            for nc, cats in used["usage_breakdown"]["neuroncore_memory_usage"].items():
                for cat in CORE_MEMORY:
                    self._set(f"neuroncore_memory_usage_{cat}",
                              {**labels, "memory_location": "None", "neuroncore": int(nc)},
                              cats[cat])
        elif group == "execution_stats":
            for kind, n in data["error_summary"].items():
                self._inc("execution_errors_total", {**labels, "error_type": kind}, n)
            for kind, n in data["execution_summary"].items():
                self._inc("execution_status_total", {**labels, "status_type": kind}, n)
            total = data["latency_stats"]["total_latency"]
            if total is not None:
                for p, v in total.items():
                    self._set("execution_latency_seconds", {**labels, "percentile": p}, v)

    def _system_group(self, group: str, data: Json, base: dict[str, str]) -> None:
        if group == "neuron_hw_counters":
            for dev in data["neuron_devices"] or []:
                for event in ECC:
                    self._inc("hardware_ecc_events_total",
                              {**base, "event_type": event,
                               "neuron_device_index": dev["neuron_device_index"]}, dev[event])
        elif group == "vcpu_usage":
            avg = data["average_usage"]
            self._set("system_vcpu_count", base, len(data["usage_data"]))
            for usage, parts in (("user", ("user", "nice")),
                                 ("system", ("system", "io_wait", "irq", "soft_irq"))):
                self._set("system_vcpu_usage_ratio", {**base, "usage_type": usage},
                          min(sum(avg[p] for p in parts), 100.0) / 100.0)
        elif group == "memory_info":
            for kind in ("memory", "swap"):
                for stat in ("total_bytes", "used_bytes"):
                    self._set(f"system_{kind}_{stat}", base, data[f"{kind}_{stat}"])


def samples(docs: list[Json]) -> dict[Key, float]:
    exporter = AwsExporter()
    for doc in docs:
        exporter.feed(doc)
    return exporter.values


def parse_exposition(text: str, families: set[str], drop: tuple[str, ...] = ()
                     ) -> dict[Key, float]:
    """trnmon's exposition as the same mapping, for `families`, minus labels in `drop`
    (trnmon's additions, e.g. neuron_device)."""
    out: dict[Key, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name, _, rest = series.partition("{")
        if name not in families:
            continue
        labels = {}
        for part in _split_labels(rest.removesuffix("}")):
            k, _, v = part.partition("=")
            if k not in drop:
                labels[k] = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out[(name, frozenset(labels.items()))] = float(value)
    return out


def _split_labels(text: str) -> list[str]:
    parts, cur, quoted, escaped = [], "", False, False
    for ch in text:
        if escaped:
            cur += ch
            escaped = False
        elif ch == "\\":
            cur += ch
            escaped = True
        elif ch == '"':
            quoted = not quoted
            cur += ch
        elif ch == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts
