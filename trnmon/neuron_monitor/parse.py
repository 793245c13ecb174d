"""Tolerant parsing of neuron-monitor report lines (reference §4) into normalised samples.

Real output has `null` groups, `error` strings, `neuron_runtime_data: []` on an idle host,
`neuron_devices: null` in containers (aws-neuron-sdk#633), Neuron 1.x names
(`inference_stats`, `hw_counters`, `nc_counters`, `runtime_cpu_usage`), LNC=1 and LNC=2,
and trn1/inf2 `v2` cores. `parse_line` never raises: a line that is not a JSON object
is a `Malformed` result with a reason; a field of the wrong type is skipped and noted in
`Sample.warnings`. Percentages become ratios here, so nothing downstream divides by 100.

Like AWS's exporter script, a metric group whose `error` is not empty is not used (its
error is kept in `Sample.errors`), nor is a runtime whose own `error` is set. A runtime
lists every NeuronCore of the host, with 0 for the cores it does not use; cores keep
that per-runtime shape here. `effective_flops` (newer neuron-monitor, beside or instead
of `flops`) is preferred when present. `total_latency: null` (nothing ran in the period)
is no latency, never zero.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from trnmon.neuron_monitor.schema import canonical_group
from trnmon.sim.state import ECC_EVENTS, EXECUTION_ERRORS, EXECUTION_STATUS, LATENCY_PERCENTILES

MAX_LINE_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class CoreSample:
    utilization: float  # ratio
    flops: float | None  # `effective_flops` if reported, else `flops`
    physical: tuple[float, ...] = ()  # v3d physical-core utilization ratios, in order


@dataclass(slots=True)
class RuntimeSample:
    tag: str
    pid: int
    error: str = ""
    cores: dict[int, CoreSample] | None = None  # logical core id -> sample
    host_bytes: float | None = None
    device_bytes: float | None = None
    core_memory: dict[int, dict[str, float]] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    vcpu: tuple[float, float] | None = None  # user, system ratios
    status: dict[str, int] | None = None  # per period
    errors: dict[str, int] | None = None  # per period
    latency: dict[str, float] | None = None  # total latency seconds; None: nothing ran


@dataclass(frozen=True, slots=True)
class HardwareInfo:
    device_type: str
    device_version: str
    core_version: str
    device_count: int
    memory_size: float
    cores_per_device: int
    lnc: int


@dataclass(slots=True)
class Sample:
    runtimes: list[RuntimeSample] = field(default_factory=list)
    ecc: dict[int, dict[str, int]] | None = None  # per period, by device; None: no data
    vcpu: tuple[float, float] | None = None  # user (+nice), system (+io_wait+irq+soft_irq)
    vcpu_count: int = 0
    memory: dict[str, float] | None = None
    instance: dict[str, str] = field(default_factory=dict)
    hardware: HardwareInfo | None = None
    period: float = 0.0  # the longest group period in the line
    errors: list[str] = field(default_factory=list)  # non-empty `error` strings
    warnings: list[str] = field(default_factory=list)  # fields skipped for their type


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: str


def _num(v: object) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _obj(v: object) -> dict[str, Any] | None:
    return v if isinstance(v, dict) else None


MAX_INDEX = 4096  # core and device keys above this are not real (trn2: 128 cores)
MAX_DEVICES = 128
MAX_CORES_PER_DEVICE = 32


def _index(key: object) -> int | None:
    """A decimal key ("12", or the tail of "nc_v3.12") as an int; None otherwise."""
    tail = str(key).rpartition(".")[2]
    if tail.isascii() and tail.isdigit() and len(tail) <= 6 and int(tail) < MAX_INDEX:
        return int(tail)
    return None


class _Reader:
    """Field access that records, rather than raises on, unexpected shapes."""

    def __init__(self, sample: Sample) -> None:
        self.s = sample

    def group(self, holder: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
        """Groups by canonical name; `null` groups dropped; errors and periods noted."""
        out: dict[str, dict[str, Any]] = {}
        for name, value in holder.items():
            if value is None:
                continue
            g = _obj(value)
            if g is None:
                self.s.warnings.append(f"{where}.{name}: not an object")
                continue
            err = g.get("error")
            if isinstance(err, str) and err:
                self.s.errors.append(f"{where}.{name}: {err}")
                continue  # AWS's script skips a group that reports an error
            period = _num(g.get("period"))
            if period is not None and period > self.s.period:
                self.s.period = period
            out[canonical_group(name)] = g
        return out

    def counts(self, obj: object, keys: tuple[str, ...], where: str) -> dict[str, int] | None:
        o = _obj(obj)
        if o is None:
            return None
        out = {}
        for k in keys:
            v = _num(o.get(k, 0))
            if v is None:
                self.s.warnings.append(f"{where}.{k}: not a number")
                v = 0.0
            out[k] = max(int(v), 0)
        return out


def _cores(g: dict[str, Any]) -> dict[int, CoreSample]:
    cores: dict[int, CoreSample] = {}
    for key, raw in (_obj(g.get("neuroncores_in_use")) or {}).items():
        c = _obj(raw)
        index = _index(key)
        if c is None or index is None or "." in str(key):
            continue
        util = _num(c.get("neuroncore_utilization")) or 0.0
        phys: list[float] = []
        v3d = _obj(c.get("v3d")) or {}
        for pk in sorted(v3d, key=lambda k: _index(k) or 0):
            p = _obj(v3d[pk])
            pu = _num(p.get("neuroncore_utilization")) if p else None
            phys.append(max(pu or 0.0, 0.0) / 100.0)
        flops = _num(c.get("effective_flops"))
        if flops is None:
            flops = _num(c.get("flops"))
        cores[index] = CoreSample(max(util, 0.0) / 100.0, flops, tuple(phys))
    return cores


def _memory(r: RuntimeSample, g: dict[str, Any]) -> None:
    used = _obj(g.get("neuron_runtime_used_bytes")) or {}
    r.host_bytes = _num(used.get("host"))
    r.device_bytes = _num(used.get("neuron_device"))
    breakdown = _obj(used.get("usage_breakdown")) or {}
    for key, raw in (_obj(breakdown.get("neuroncore_memory_usage")) or {}).items():
        cats = _obj(raw)
        index = _index(key)
        if cats is not None and index is not None and "." not in str(key):
            r.core_memory[index] = {k: v for k, raw_v in cats.items()
                                       if (v := _num(raw_v)) is not None}
    models = g.get("loaded_models")
    if isinstance(models, list):
        r.models = tuple(str(m.get("name")) for m in models
                         if isinstance(m, dict) and m.get("name"))


def _execution(rd: _Reader, r: RuntimeSample, g: dict[str, Any], where: str) -> None:
    summary = g.get("execution_summary", g.get("inference_summary"))
    r.status = rd.counts(summary, EXECUTION_STATUS, f"{where}.execution_summary")
    r.errors = rd.counts(g.get("error_summary"), EXECUTION_ERRORS, f"{where}.error_summary")
    lat = _obj(_obj(g.get("latency_stats")) or {})
    total = _obj((lat or {}).get("total_latency"))
    if total is not None:
        vals = {p: v for p in LATENCY_PERCENTILES if (v := _num(total.get(p))) is not None}
        if len(vals) == len(LATENCY_PERCENTILES):
            r.latency = vals
        elif vals:
            rd.s.warnings.append(f"{where}.latency_stats.total_latency: percentiles missing")


def _runtime(rd: _Reader, entry: object, i: int) -> RuntimeSample | None:
    e = _obj(entry)
    where = f"neuron_runtime_data[{i}]"
    if e is None:
        rd.s.warnings.append(f"{where}: not an object")
        return None
    pid = _num(e.get("pid"))
    tag = e.get("neuron_runtime_tag")
    r = RuntimeSample(tag=str(tag) if tag not in (None, "") else str(int(pid or 0)),
                      pid=int(pid or 0))
    if isinstance(e.get("error"), str) and e["error"]:
        r.error = e["error"]
        rd.s.errors.append(f"runtime {r.tag}: {r.error}")
        return r  # its report is not used (AWS's script skips the runtime)
    groups = rd.group(_obj(e.get("report")) or {}, f"runtime {r.tag}")
    if "neuroncore_counters" in groups:
        r.cores = _cores(groups["neuroncore_counters"])
    if "memory_used" in groups:
        _memory(r, groups["memory_used"])
    if "neuron_runtime_vcpu_usage" in groups:
        g = groups["neuron_runtime_vcpu_usage"]
        u = _obj(g.get("vcpu_usage", g.get("cpu_usage"))) or {}
        r.vcpu = ((_num(u.get("user")) or 0.0) / 100.0, (_num(u.get("system")) or 0.0) / 100.0)
    if "execution_stats" in groups:
        _execution(rd, r, groups["execution_stats"], f"runtime {r.tag}")
    return r


def _system(rd: _Reader, system: dict[str, Any]) -> None:
    s = rd.s
    groups = rd.group(system, "system_data")
    hw = groups.get("neuron_hw_counters")
    if hw is not None and isinstance(hw.get("neuron_devices"), list):
        s.ecc = {}
        for dev in hw["neuron_devices"]:
            d = _obj(dev)
            idx = _num(d.get("neuron_device_index")) if d else None
            if d is not None and idx is not None and 0 <= idx < MAX_INDEX:
                s.ecc[int(idx)] = rd.counts(d, ECC_EVENTS, "neuron_hw_counters") or {}
    cpu = groups.get("vcpu_usage")
    if cpu is not None:
        avg = _obj(cpu.get("average_usage"))
        if avg is not None:
            def pct(*keys: str) -> float:
                return sum(_num(avg.get(k)) or 0.0 for k in keys) / 100.0
            s.vcpu = (min(pct("user", "nice"), 1.0),
                      min(pct("system", "io_wait", "irq", "soft_irq"), 1.0))
        s.vcpu_count = len(_obj(cpu.get("usage_data")) or {})
    mem = groups.get("memory_info")
    if mem is not None:
        s.memory = {k: v for k in ("memory_total_bytes", "memory_used_bytes",
                                   "swap_total_bytes", "swap_used_bytes")
                    if (v := _num(mem.get(k))) is not None}


def _hardware(h: dict[str, Any]) -> HardwareInfo:
    def text(k: str) -> str:
        v = h.get(k)
        return v if isinstance(v, str) else ""

    def count(k: str, top: int) -> int:
        v = _num(h.get(k))
        return int(v) if v is not None and 0 <= v <= top else 0

    core_version = text("neuroncore_version")
    lnc = count("logical_neuroncore_config", 2) or (2 if core_version == "v3d" else 1)
    return HardwareInfo(device_type=text("neuron_device_type"),
                        device_version=text("neuron_device_version"),
                        core_version=core_version,
                        device_count=count("neuron_device_count", MAX_DEVICES),
                        memory_size=_num(h.get("neuron_device_memory_size")) or 0.0,
                        cores_per_device=count("neuroncore_per_device_count", MAX_CORES_PER_DEVICE),
                        lnc=lnc)


def parse_document(doc: object) -> Sample | Malformed:
    if not isinstance(doc, dict):
        return Malformed(f"expected a JSON object, got {type(doc).__name__}")
    known = ("neuron_runtime_data", "system_data", "instance_info", "neuron_hardware_info")
    if not any(k in doc for k in known):
        return Malformed("not a neuron-monitor report (no neuron_runtime_data, system_data, "
                         "instance_info or neuron_hardware_info)")
    s = Sample()
    rd = _Reader(s)
    runtimes = doc.get("neuron_runtime_data")
    if isinstance(runtimes, list):
        s.runtimes = [r for i, e in enumerate(runtimes) if (r := _runtime(rd, e, i))]
    elif runtimes is not None:
        s.warnings.append("neuron_runtime_data: not a list")
    _system(rd, _obj(doc.get("system_data")) or {})
    info = _obj(doc.get("instance_info"))
    if info is not None:
        s.instance = {k: v for k, v in info.items() if isinstance(v, str)}
        if s.instance.get("error"):
            s.errors.append(f"instance_info: {s.instance['error']}")
    hw = _obj(doc.get("neuron_hardware_info"))
    if hw is not None:
        s.hardware = _hardware(hw)
        if isinstance(hw.get("error"), str) and hw["error"]:
            s.errors.append(f"neuron_hardware_info: {hw['error']}")
    return s


def parse_line(line: str | bytes) -> Sample | Malformed | None:
    """One output line: a Sample, a Malformed reason, or None for a blank line."""
    if len(line) > MAX_LINE_BYTES:
        return Malformed(f"line of {len(line)} bytes is longer than {MAX_LINE_BYTES}")
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Malformed(f"not UTF-8 at byte {exc.start}")
    if not line.strip():
        return None
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        return Malformed(f"not JSON: {exc.msg} at column {exc.colno}")
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        return Malformed(f"not JSON: {exc}")
    except RecursionError:
        return Malformed("JSON nested too deeply")
    return parse_document(doc)
