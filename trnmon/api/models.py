"""The JSON view of a fleet, version 1: what the daemon serves and every TUI source yields.

The same models come from an embedded engine, a daemon, neuron-monitor output or Prometheus,
so the TUI never needs to know where its data came from. Per-chip heatmap values travel as
base64 of one byte per chip (`Heatmap`) so a 40,000-chip fleet stays a small message.
"""

from __future__ import annotations

import base64
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "v1"

HEAT_METRICS = ("utilization", "hbm", "temperature", "power")
# Byte scaling per heatmap metric: (low, high) mapped onto 0..255.
HEAT_RANGE: dict[str, tuple[float, float]] = {
    "utilization": (0.0, 1.0), "hbm": (0.0, 1.0), "temperature": (20.0, 110.0),
    "power": (0.0, 1.0),
}


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Location(Model):
    region: str
    availability_zone: str
    availability_zone_id: str
    datacenter: str
    row: str
    rack: str
    ultraserver: str
    instance_type: str


class NodeRow(Model):
    """One node in the fleet table: per-node aggregates."""

    node: int
    instance_id: str
    location: Location
    up: bool
    chips: int
    busy_chips: int
    unhealthy_chips: int
    throttled_chips: int
    utilization: float
    hbm_used_bytes: float
    hbm_total_bytes: float
    power_watts: float
    temperature_max_celsius: float
    health: str  # the worst device health on the node
    job_ids: list[int]


class FleetTotals(Model):
    nodes: int
    nodes_up: int
    chips: int
    busy_chips: int
    unhealthy_chips: int
    throttled_chips: int
    utilization: float
    hbm_used_bytes: float
    hbm_total_bytes: float
    power_watts: float
    jobs: int
    queued_jobs: int
    active_faults: int
    cost_per_hour: float = 0.0
    """The fleet's burn rate: every instance at its configured price."""
    cost_idle_share: float = 0.0
    """Share of the burn rate on instances that are allocated but idle or unallocated."""
    cost_lost_share: float = 0.0
    """Share of the burn rate on instances waiting in checkpoints/restarts or unhealthy."""
    currency: str = "USD"


# Per-chip state codes overlaid on the heatmap whatever its metric; a bigger code is worse,
# so an aggregated cell shows the max (the worst state wins).
HEAT_STATES = ("ok", "throttled", "link", "hung", "failed", "lost")


class Heatmap(Model):
    """Per-chip values in topology order, one byte each (0..255 over HEAT_RANGE), plus one
    HEAT_STATES code per chip in `states` (empty from sources that do not report health)."""

    chips: int
    values: dict[str, str]  # metric -> base64 bytes
    states: str = ""  # base64 bytes, one HEAT_STATES index per chip

    @staticmethod
    def encode(per_metric: dict[str, npt.ArrayLike]) -> Heatmap:
        values = {}
        chips = 0
        for name, arr in per_metric.items():
            lo, hi = HEAT_RANGE[name]
            a = np.asarray(arr, dtype=np.float32)
            chips = a.shape[0]
            q = np.clip((a - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            values[name] = base64.b64encode(q.tobytes()).decode("ascii")
        return Heatmap(chips=chips, values=values)

    @staticmethod
    def encode_states(codes: npt.ArrayLike) -> str:
        return base64.b64encode(np.asarray(codes, dtype=np.uint8).tobytes()).decode("ascii")

    def decode_states(self) -> npt.NDArray[np.uint8]:
        """One HEAT_STATES index per chip (all "ok" when the source sent none)."""
        if not self.states:
            return np.zeros(self.chips, dtype=np.uint8)
        return np.frombuffer(base64.b64decode(self.states), dtype=np.uint8)

    def decode(self, metric: str) -> npt.NDArray[np.float32]:
        lo, hi = HEAT_RANGE[metric]
        raw = np.frombuffer(base64.b64decode(self.values[metric]), dtype=np.uint8)
        result: npt.NDArray[np.float32] = raw.astype(np.float32) / 255.0 * (hi - lo) + lo
        return result


class JobModel(Model):
    job_id: int
    name: str
    kind: str
    model: str
    state: str
    instance_ids: list[str]
    nodes: list[int]
    chips: int
    step_seconds: float
    tokens_per_second: float
    tokens_total: float
    mfu: float
    steps: float
    progress: float
    restarts: int
    started_at: float
    submitted_at: float
    ttft_seconds: float = 0.0  # serving jobs: time to first token
    itl_seconds: float = 0.0  # serving jobs: inter-token latency (the decode step)
    goodput_seconds: dict[str, float] = {}
    """Seconds by goodput state: productive, checkpoint, loading, lost, requeue, queue."""
    effective_training_time: float = 1.0
    """productive / allocated (productive + checkpoint + loading + lost)."""
    cost_dollars: float = 0.0
    """What the job's instances have cost while it held them (all placements)."""
    cost_per_hour: float = 0.0
    """The hourly price of the instances it holds now."""
    tokens_per_dollar: float = 0.0
    goodput_tokens_per_dollar: float = 0.0
    """Tokens kept (not rolled back by a restart) per unit of cost."""


class QueuedJobModel(Model):
    job_id: int
    kind: str
    model: str
    nodes: int
    restarts: int


class FaultModel(Model):
    fault_id: int
    kind: str
    instance_id: str
    node: int
    device: int
    port: int
    started_at: float
    clears_at: float | None
    injected: bool


class EventModel(Model):
    seq: int
    t: float
    kind: str
    severity: Literal["info", "warning", "critical"]
    text: str
    instance_id: str = ""
    device: int = -1
    job_id: int = 0


class FleetSummary(Model):
    """Pushed every tick: everything the fleet, jobs and events views need."""

    api_version: str = API_VERSION
    source: str = "emulated"
    fleet: str
    region: str
    tick: int
    t: float  # simulated seconds since start
    wall_time: float
    tick_duration_seconds: float
    totals: FleetTotals
    nodes: list[NodeRow]
    heatmap: Heatmap
    jobs: list[JobModel]
    queued: list[QueuedJobModel]
    faults: list[FaultModel]
    events: list[EventModel]  # newest last; bounded


class CoreDetail(Model):
    """One physical core."""

    index: int
    utilization: float
    engines: dict[str, float]
    flops: float


class LogicalCoreDetail(Model):
    """A NeuronCore as AWS tools number it (LNC=2: two physical cores)."""

    neuroncore: int  # node-wide logical id
    physical: list[int]
    utilization: float
    flops: float


class LinkDetail(Model):
    port: str
    kind: str  # intra_node | ultraserver
    peer_device: int
    peer_instance_id: str
    state: str  # up | degraded | down
    bandwidth_bytes_per_second: float
    tx_bytes: float
    rx_bytes: float
    errors: float


class DeviceDetail(Model):
    device: int
    chip: int  # global chip index
    chip_name: str
    health: str
    throttled: bool
    clock_ratio: float
    temperature_celsius: float
    power_watts: float
    energy_joules: float
    utilization: float
    hbm_used_bytes: dict[str, float]  # by AWS category
    hbm_total_bytes: float
    hbm_bandwidth_utilization: float
    cores: list[CoreDetail]
    logical_cores: list[LogicalCoreDetail]
    ecc: dict[str, float]
    execution_status: dict[str, float]
    execution_errors: dict[str, float]
    latency_seconds: dict[str, float]
    links: list[LinkDetail]
    job_id: int


class HostDetail(Model):
    vcpus: int
    vcpu_user_ratio: float
    vcpu_system_ratio: float
    runtime_vcpu_user_ratio: float
    runtime_vcpu_system_ratio: float
    memory_total_bytes: float
    memory_used_bytes: float
    efa_tx_bytes: float
    efa_rx_bytes: float


class EfaDevice(Model):
    """One EFA device of a node: its state and traffic (a downed device's share moves to
    the node's other devices)."""

    index: int
    name: str  # the RDMA device name (rdmap...s27)
    state: str  # up | down
    bandwidth_bytes_per_second: float
    tx_bytes: float
    rx_bytes: float
    errors: float


class ProcessModel(Model):
    """A Neuron runtime process on one node: neuron-ls's PID / COMMAND / RUNTIME VERSION,
    neuron-monitor's `pid` and `neuron_runtime_tag`, and what it holds on the node."""

    pid: int
    runtime_tag: str
    command: str  # "" where the source does not know it (neuron-monitor reports none)
    runtime_version: str  # "" where unknown
    job_id: int  # the trnmon job (a real host: the job its runtime became); 0: none
    neuroncores: list[int]  # node-wide logical ids the runtime uses
    devices: list[int]
    utilization: float  # mean over `neuroncores`, 0..1
    hbm_used_bytes: float  # device memory held by the runtime
    host_used_bytes: float
    vcpu_user_ratio: float
    vcpu_system_ratio: float


class NodeDetail(Model):
    """One node in full: the Node and Device views."""

    api_version: str = API_VERSION
    tick: int
    t: float
    node: int
    instance_id: str
    location: Location
    up: bool
    lnc: int
    core_version: str  # v3d | v3 | v2
    logical_cores_per_device: int
    host: HostDetail
    devices: list[DeviceDetail]
    jobs: list[JobModel]
    processes: list[ProcessModel] = Field(default_factory=list)  # Neuron runtime processes
    efa: list[EfaDevice] = Field(default_factory=list)  # the instance's EFA devices
    replacements: int = 0  # times this node slot was drained and replaced (a new instance)


class TopologyNode(Model):
    node: int
    instance_id: str
    location: Location
    chips: int
    first_chip: int


class FleetTopology(Model):
    api_version: str = API_VERSION
    fleet: str
    region: str
    lnc: int
    chips: int
    nodes: list[TopologyNode]


class HistorySeries(Model):
    """Aggregates over time for one scope (the fleet, a node or a device)."""

    api_version: str = API_VERSION
    scope: str  # "fleet", an instance id, or "<instance id>/nd<N>"
    t: list[float]
    series: dict[str, list[float]] = Field(default_factory=dict)
