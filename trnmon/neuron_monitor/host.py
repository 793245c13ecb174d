"""One real host's state, accumulated from neuron-monitor samples, as the v1 API models.

Gauges keep their last reported value (a group absent from a line keeps its previous
value, since neuron-monitor reports each group at its own period); per-period counts add
up into cumulative counters, per runtime tag (bounded) and per device. A runtime missing
from a line has ended: its cores read idle. Runtimes become jobs (tag = name) so the
Jobs view shows them; per-runtime execution counts are split evenly over the runtime's
devices for the Device view (node and job totals are exact).

What neuron-monitor does not report (temperature, power, energy, HBM bandwidth,
NeuronLink, EFA) is NaN or empty here, never a made-up zero.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from trnmon.api.models import EventModel
from trnmon.hw.catalog import CHIPS, ChipSpec
from trnmon.neuron_monitor.parse import MAX_DEVICES, HardwareInfo, RuntimeSample, Sample
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

    def core_owner(self) -> dict[int, str]:
        """Logical core -> tag of the runtime using it."""
        owner: dict[int, str] = {}
        for tag, r in self.runtimes.items():
            for core in set(r.cores or {}) | set(r.core_memory):
                owner.setdefault(core, tag)
        return owner

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
    if cur.status is None:
        cur.latency = prev.latency
    return cur
