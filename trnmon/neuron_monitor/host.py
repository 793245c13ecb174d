"""One real host's state, accumulated from neuron-monitor samples, as the v1 API models.

Gauges keep their last reported value (a group absent from a line keeps its previous
value, since neuron-monitor reports each group at its own period, and a runtime whose
latency is `null` keeps its last latency, as AWS's gauges do); per-period counts add up
into cumulative counters, per runtime tag (bounded) and per device. A runtime missing
from a line has ended: its cores read idle; a runtime reported with an `error` keeps its
last state. Every runtime lists every core (0 where it does not run): a core's load is
the sum over runtimes, and a runtime *uses* a core where it shows utilization or memory.
Runtimes become jobs (tag = name) and processes so the Jobs and Processes views show
them; per-runtime execution counts are split evenly over the devices the runtime uses for
the Device view (node and job totals are exact).

What neuron-monitor does not report (temperature, power, energy, HBM bandwidth,
NeuronLink, EFA) is NaN or empty here, never a made-up zero.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from trnmon.api.models import EventModel
from trnmon.hw.catalog import CHIPS, ChipSpec
from trnmon.neuron_monitor.parse import (
    MAX_DEVICES,
    CoreSample,
    HardwareInfo,
    RuntimeSample,
    Sample,
)
from trnmon.sim.state import ECC_EVENTS, EXECUTION_ERRORS, EXECUTION_STATUS, HBM_CATEGORIES

NAN = float("nan")
MAX_TAGS = 256  # cumulative counters kept for this many runtime tags (oldest dropped)
MAX_EVENTS = 200
UNKNOWN_ID = "i-unknown"


def chip_spec(hw: HardwareInfo | None) -> ChipSpec | None:
    kind = hw.device_type if hw else ""
    return next((c for c in CHIPS.values() if c.neuron_device_type == kind), None)


@dataclass(slots=True)
class RuntimeTotals:
    job_id: int
    first_t: float
    status: dict[str, float] = field(default_factory=lambda: dict.fromkeys(EXECUTION_STATUS,
                                                                           0.0))
    errors: dict[str, float] = field(default_factory=lambda: dict.fromkeys(EXECUTION_ERRORS,
                                                                           0.0))
    executions_seen: bool = False  # an execution_stats group has been used


class HostState:
    """Feed it samples (`add`) and malformed lines (`malformed`); read the models out."""

    def __init__(self) -> None:
        self.reports = 0
        self.malformed_lines = 0
        self.t = 0.0
        self.wall_time = time.time()
        self.last_period = 0.0
        self.hardware: HardwareInfo | None = None
        self.instance: dict[str, str] = {}
        self.vcpu: tuple[float, float] | None = None
        self.vcpu_count = 0
        self.memory: dict[str, float] | None = None
        self.ecc_seen = False
        self.ecc: dict[int, dict[str, float]] = {}
        self.runtimes: dict[str, RuntimeSample] = {}  # running now, by tag
        self.totals: OrderedDict[str, RuntimeTotals] = OrderedDict()
        self.events: deque[EventModel] = deque(maxlen=MAX_EVENTS)
        self._event_seq = 0
        self._next_job = 1

    # --- input ---------------------------------------------------------------------------
    def add(self, s: Sample) -> None:
        self.reports += 1
        self.t += s.period
        self.last_period = s.period
        self.wall_time = time.time()
        if s.hardware is not None:
            self.hardware = s.hardware
        if s.instance:
            self.instance = s.instance
        if s.vcpu is not None:
            self.vcpu = s.vcpu
            self.vcpu_count = s.vcpu_count or self.vcpu_count
        if s.memory is not None:
            self.memory = s.memory
        if s.ecc is not None:
            self.ecc_seen = True
            for dev, counts in s.ecc.items():
                acc = self.ecc.setdefault(dev, dict.fromkeys(ECC_EVENTS, 0.0))
                for k, v in counts.items():
                    acc[k] += v
        live: dict[str, RuntimeSample] = {}
        for r in s.runtimes:
            prev = self.runtimes.get(r.tag)
            if r.error:  # not read this period: keep what we had, count nothing
                if prev is not None:
                    live[r.tag] = prev
                continue
            live[r.tag] = _merge(prev, r) if prev else r
            self._count(r)
        self.runtimes = live
        for text in s.errors:
            self.event("neuron_monitor_error", "warning", text)

    def malformed(self, reason: str) -> None:
        self.malformed_lines += 1
        self.event("malformed_line", "warning",
                   f"malformed line #{self.malformed_lines}: {reason}")

    def event(self, kind: str, severity: str, text: str) -> None:
        self._event_seq += 1
        self.events.append(EventModel.model_construct(
            seq=self._event_seq, t=self.t, kind=kind, severity=severity,  # type: ignore[arg-type]
            text=text[:300], instance_id=self.instance_id, device=-1, job_id=0))

    def _count(self, r: RuntimeSample) -> None:
        tot = self.totals.get(r.tag)
        if tot is None:
            tot = self.totals[r.tag] = RuntimeTotals(self._next_job, self.t)
            self._next_job += 1
            while len(self.totals) > MAX_TAGS:
                self.totals.popitem(last=False)
        self.totals.move_to_end(r.tag)
        tot.executions_seen |= r.status is not None or r.errors is not None
        for k, v in (r.status or {}).items():
            tot.status[k] += v
        for k, v in (r.errors or {}).items():
            tot.errors[k] += v

    # --- derived ---------------------------------------------------------------------------
    @property
    def instance_id(self) -> str:
        return self.instance.get("instance_id") or UNKNOWN_ID

    @property
    def cores_per_device(self) -> int:
        hw = self.hardware
        if hw and hw.cores_per_device:
            return hw.cores_per_device
        spec = chip_spec(hw)
        if spec is not None:
            return spec.physical_cores // (hw.lnc if hw and spec.supports_lnc else 1)
        return 1

    @property
    def device_count(self) -> int:
        if self.hardware and self.hardware.device_count:
            return self.hardware.device_count
        cores = [c for r in self.runtimes.values() for c in (r.cores or {})]
        top = max([*(c // self.cores_per_device for c in cores), *self.ecc], default=-1)
        return min(top + 1, MAX_DEVICES)

    @property
    def lnc(self) -> int:
        return self.hardware.lnc if self.hardware else 1

    @property
    def core_version(self) -> str:
        if self.hardware and self.hardware.core_version:
            return self.hardware.core_version
        return "v3d" if self.lnc == 2 else "v2"

    @property
    def memory_size(self) -> float:
        """HBM per device: the report's, else the chip's (trn1n captures may omit it)."""
        if self.hardware and self.hardware.memory_size > 0:
            return self.hardware.memory_size
        spec = chip_spec(self.hardware)
        return float(spec.hbm_bytes) if spec else 0.0

    def used_cores(self, r: RuntimeSample) -> list[int]:
        """Cores the runtime uses: it shows utilization, FLOP/s or memory there."""
        used = {c for c, s in (r.cores or {}).items() if s.utilization > 0 or (s.flops or 0) > 0}
        used |= {c for c, cats in r.core_memory.items() if any(v > 0 for v in cats.values())}
        return sorted(used)

    def core_load(self) -> dict[int, CoreSample]:
        """Each logical core over all runtimes: utilization summed (at most 1), FLOP/s
        summed, v3d physical utilization summed per physical core."""
        out: dict[int, CoreSample] = {}
        for r in self.runtimes.values():
            for core, s in (r.cores or {}).items():
                prev = out.get(core)
                if prev is None:
                    out[core] = s
                    continue
                phys = prev.physical or s.physical
                if prev.physical and s.physical and len(prev.physical) == len(s.physical):
                    phys = tuple(min(a + b, 1.0) for a, b in zip(prev.physical, s.physical,
                                                                  strict=True))
                flops = None if prev.flops is None and s.flops is None else (
                    (prev.flops or 0.0) + (s.flops or 0.0))
                out[core] = CoreSample(min(prev.utilization + s.utilization, 1.0), flops,
                                       phys)
        return out

    def core_memory(self) -> dict[int, dict[str, float]]:
        """Device memory per logical core by AWS category, over all runtimes."""
        out: dict[int, dict[str, float]] = {}
        for r in self.runtimes.values():
            for core, cats in r.core_memory.items():
                acc = out.setdefault(core, dict.fromkeys(HBM_CATEGORIES, 0.0))
                for k in HBM_CATEGORIES:
                    acc[k] += cats.get(k, 0.0)
        return out


def _merge(prev: RuntimeSample, cur: RuntimeSample) -> RuntimeSample:
    """A runtime's latest state: groups absent from this line keep their last values;
    per-period counts are never carried over."""
    if cur.cores is None:
        cur.cores = prev.cores
    if cur.host_bytes is None and cur.device_bytes is None and not cur.core_memory:
        cur.host_bytes, cur.device_bytes = prev.host_bytes, prev.device_bytes
        cur.core_memory, cur.models = prev.core_memory, prev.models
    if cur.vcpu is None:
        cur.vcpu = prev.vcpu
    if cur.latency is None:  # `null` (nothing ran) or not reported: the last value stays
        cur.latency = prev.latency
    return cur
