"""Every exported metric, declared once: name, type, unit, help and label names.

This module is pure data (no prometheus_client), so the renderer, the docs table, tests
and later dashboards all read the same declarations.

Naming (reference peers-and-prometheus §4, trainium2-and-neuron-tools §5):

* ``aws=True`` metrics reuse neuron-monitor-prometheus.py names, types, label names and
  units verbatim and carry AWS's base labels (``instance_name``, ``instance_id``,
  ``instance_type``, ``availability_zone``, ``region``, ``subnet_id``) so AWS's Grafana
  dashboard and CloudWatch queries work unchanged. Per-runtime metrics add ``runtime_tag``.
  Improvements over AWS: a ``neuron_device`` label wherever a core or device is involved,
  and zeros (not absent series) on idle nodes.
* Extensions describe the hardware and its workload, so they use the Neuron domain
  prefixes ``neuron_``, ``neuroncore_`` and ``neuronlink_`` (what a real Neuron exporter
  would emit; dashboards need no renaming). Only the emulator's own self-metrics use
  ``trnmon_``. Extensions carry ``instance_id`` as their only node label: location (AZ,
  datacenter, row, rack, UltraServer) comes from service discovery as target labels.
* Base units, ``_total`` counters, ``_ratio`` in 0..1, ``_info`` gauges of value 1, and
  state-set gauges (``..._state{state=...}`` 0/1, one series per possible state) for
  enumerations, so alert rules read ``neuron_device_health_state{state="failed"} == 1``
  and alert labels name the state. No label value churns while a node keeps its job.
* No ``_created`` series: they double counter cardinality and AWS dashboards ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from trnmon.hw.catalog import ENGINES
from trnmon.sim.cost import CAPACITY_STATES, FAMILIES
from trnmon.sim.rules import GOODPUT_STATES
from trnmon.sim.state import (
    ECC_EVENTS,
    EXECUTION_ERRORS,
    EXECUTION_STATUS,
    LATENCY_PERCENTILES,
    Health,
    LinkState,
)
from trnmon.sim.taxonomy import CAUSE_NAMES

MetricType = Literal["gauge", "counter", "info", "histogram"]
# How many series a metric has on one node: one, one per device, per logical core, per
# NeuronLink port, per EFA device, per job running on the node, per job the node leads,
# or per serving job (inference, batch inference) the node leads; "daemon" and "fleet"
# series are on the daemon's own /metrics (the emulator itself, and the fleet as a whole:
# scheduler, goodput, cost, replacements), with no node labels.
Scope = Literal["node", "device", "core", "link", "efa", "job", "job_leader",
                "serving_leader", "daemon", "fleet"]

AWS_BASE_LABELS = ("instance_name", "instance_id", "instance_type", "availability_zone",
                   "region", "subnet_id")
EXT_BASE_LABELS = ("instance_id",)
HEALTH_STATES = tuple(h.name.lower() for h in Health)
LINK_STATES = tuple(s.name.lower() for s in LinkState)
# AWS folds the kernel's seven vCPU fields into these two (reference §5).
VCPU_USAGE_TYPES = ("user", "system")
MEMORY_LOCATIONS = ("host", "neuron_device")
CORE_LABELS = ("neuroncore", "neuron_device")
LINK_LABELS = ("neuron_device", "link", "peer_device", "peer_instance_id")
EFA_LABELS = ("efa_device",)  # the RDMA device name, rdmap<bus>s<slot>


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    type: MetricType
    unit: str  # Prometheus base unit, or "" for counts, states and info
    help: str
    scope: Scope
    labels: tuple[str, ...] = ()  # labels after the base labels, in exposition order
    enums: tuple[tuple[str, tuple[str, ...]], ...] = ()  # labels with a fixed value set
    const: tuple[tuple[str, str], ...] = ()  # labels with one fixed value
    aws: bool = False
    runtime: bool = False  # AWS per-runtime metric: adds runtime_tag
    # Node labels after the base labels that only some hosts have (a real UltraServer
    # host's `ultraserver_id`, which AWS's script adds to every series).
    node_extra: tuple[str, ...] = ()

    @property
    def base_labels(self) -> tuple[str, ...]:
        if self.scope in ("daemon", "fleet"):
            return ()  # the daemon's own /metrics describe no node
        return AWS_BASE_LABELS if self.aws else EXT_BASE_LABELS

    @property
    def label_names(self) -> tuple[str, ...]:
        return (self.base_labels + self.node_extra + (("runtime_tag",) if self.runtime else ())
                + self.labels)

    @property
    def exposition_type(self) -> str:
        # The 0.0.4 text format has no info type; prometheus_client writes Info as gauge.
        return "gauge" if self.type == "info" else self.type

    @property
    def enum_size(self) -> int:
        n = 1
        for _, values in self.enums:
            n *= len(values)
        return n


def _aws(name: str, type_: MetricType, unit: str, help_: str, scope: Scope,
         labels: tuple[str, ...] = (), *, runtime: bool = False,
         enums: tuple[tuple[str, tuple[str, ...]], ...] = (),
         const: tuple[tuple[str, str], ...] = ()) -> Metric:
    return Metric(name, type_, unit, help_, scope, labels, enums, const, aws=True,
                  runtime=runtime)


_CORE_MEMORY = tuple(
    _aws(f"neuroncore_memory_usage_{cat}", "gauge", "bytes",
         f"Device memory used for {cat.replace('_', ' ')} by a NeuronCore (the device's "
         "usage split evenly over its logical cores).", "core",
         (*CORE_LABELS, "memory_location"), runtime=True,
         const=(("memory_location", "None"),))  # AWS's leftover "None" value, kept as is
    for cat in ("constants", "model_code", "model_shared_scratchpad", "runtime_memory",
                "tensors"))

AWS_METRICS: tuple[Metric, ...] = (
    _aws("neuroncore_utilization_ratio", "gauge", "ratio",
         "NeuronCore utilization, 0 to 1 (a logical core averages its physical cores).",
         "core", CORE_LABELS, runtime=True),
    _aws("neuron_runtime_memory_used_bytes", "gauge", "bytes",
         "Memory used by the Neuron runtime, on the host and on the Neuron devices.",
         "node", ("memory_location",), runtime=True,
         enums=(("memory_location", MEMORY_LOCATIONS),)),
    *_CORE_MEMORY,
    _aws("neuron_runtime_vcpu_usage_ratio", "gauge", "ratio",
         "Share of the instance's vCPUs used by the Neuron runtime.", "node",
         ("usage_type",), runtime=True, enums=(("usage_type", VCPU_USAGE_TYPES),)),
    _aws("execution_status_total", "counter", "",
         "Executions completed by the Neuron runtime, by outcome.", "node",
         ("status_type",), runtime=True, enums=(("status_type", EXECUTION_STATUS),)),
    _aws("execution_errors_total", "counter", "",
         "Execution errors reported by the Neuron runtime, by kind.", "node",
         ("error_type",), runtime=True, enums=(("error_type", EXECUTION_ERRORS),)),
    _aws("execution_latency_seconds", "gauge", "seconds",
         "Total execution latency percentiles over the last period (0 when idle).", "node",
         ("percentile",), runtime=True, enums=(("percentile", LATENCY_PERCENTILES),)),
    _aws("hardware_ecc_events_total", "counter", "",
         "ECC events detected on a Neuron device's HBM and SRAM.", "device",
         ("neuron_device_index", "neuron_device", "event_type"),
         enums=(("event_type", ECC_EVENTS),)),
    _aws("system_vcpu_count", "gauge", "", "vCPUs of the instance.", "node"),
    _aws("system_vcpu_usage_ratio", "gauge", "ratio",
         "Share of the instance's vCPUs busy (user = user+nice; system = system+iowait+irq"
         "+softirq).", "node", ("usage_type",), enums=(("usage_type", VCPU_USAGE_TYPES),)),
    _aws("system_memory_total_bytes", "gauge", "bytes", "Host memory of the instance.",
         "node"),
    _aws("system_memory_used_bytes", "gauge", "bytes", "Host memory in use.", "node"),
    _aws("system_swap_total_bytes", "gauge", "bytes", "Swap space of the instance.", "node"),
    _aws("system_swap_used_bytes", "gauge", "bytes", "Swap space in use.", "node"),
    _aws("instance_info", "info", "", "EC2 instance information.", "node"),
    _aws("neuron_hardware_info", "info", "", "Neuron hardware on the instance.", "node",
         ("neuron_device_count", "neuroncore_per_device_count")),
)


def _ext(name: str, type_: MetricType, unit: str, help_: str, scope: Scope,
         labels: tuple[str, ...] = (),
         enums: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> Metric:
    return Metric(name, type_, unit, help_, scope, labels, enums)


_DEV = ("neuron_device",)
EXTENSION_METRICS: tuple[Metric, ...] = (
    _ext("neuroncore_engine_active_ratio", "gauge", "ratio",
         "Share of time a NeuronCore engine was active.", "core", (*CORE_LABELS, "engine"),
         enums=(("engine", ENGINES),)),
    _ext("neuroncore_flops", "gauge", "FLOP/s",
         "Floating-point operations per second executed by a NeuronCore (FLOP/s).", "core",
         CORE_LABELS),
    _ext("neuron_device_hbm_used_bytes", "gauge", "bytes", "HBM in use on a Neuron device.",
         "device", _DEV),
    _ext("neuron_device_hbm_total_bytes", "gauge", "bytes", "HBM capacity of a Neuron device.",
         "device", _DEV),
    _ext("neuron_device_hbm_bandwidth_utilization_ratio", "gauge", "ratio",
         "Share of a Neuron device's peak HBM bandwidth in use.", "device", _DEV),
    _ext("neuron_device_power_watts", "gauge", "watts", "Power drawn by a Neuron device.",
         "device", _DEV),
    _ext("neuron_device_energy_joules_total", "counter", "joules",
         "Energy used by a Neuron device since the emulation started.", "device", _DEV),
    _ext("neuron_device_temperature_celsius", "gauge", "celsius",
         "Temperature of a Neuron device.", "device", _DEV),
    _ext("neuron_device_throttled", "gauge", "",
         "1 while a Neuron device's clock is thermally throttled, else 0.", "device", _DEV),
    _ext("neuron_device_clock_ratio", "gauge", "ratio",
         "A Neuron device's clock as a share of its nominal clock (1 unless throttled).",
         "device", _DEV),
    _ext("neuron_device_health_state", "gauge", "",
         "1 for the Neuron device's current health state, 0 for the others.", "device",
         (*_DEV, "state"), enums=(("state", HEALTH_STATES),)),
    _ext("neuronlink_tx_bytes_total", "counter", "bytes",
         "Bytes sent by a Neuron device over one NeuronLink port.", "link", LINK_LABELS),
    _ext("neuronlink_rx_bytes_total", "counter", "bytes",
         "Bytes received by a Neuron device over one NeuronLink port.", "link", LINK_LABELS),
    _ext("neuronlink_errors_total", "counter", "",
         "Errors (CRC, retries) on one NeuronLink port.", "link", LINK_LABELS),
    _ext("neuronlink_state", "gauge", "",
         "1 for a NeuronLink port's current state, 0 for the others.", "link",
         (*LINK_LABELS, "state"), enums=(("state", LINK_STATES),)),
    _ext("neuron_efa_tx_bytes_total", "counter", "bytes",
         "Bytes sent by the instance over EFA.", "node"),
    _ext("neuron_efa_rx_bytes_total", "counter", "bytes",
         "Bytes received by the instance over EFA.", "node"),
    _ext("neuron_efa_device_up", "gauge", "",
         "1 while an EFA device of the instance is up, 0 while it is down (its traffic "
         "moves to the instance's other EFA devices).", "efa", EFA_LABELS),
    _ext("neuron_efa_device_tx_bytes_total", "counter", "bytes",
         "Bytes sent by the instance over one EFA device.", "efa", EFA_LABELS),
    _ext("neuron_efa_device_rx_bytes_total", "counter", "bytes",
         "Bytes received by the instance over one EFA device.", "efa", EFA_LABELS),
    _ext("neuron_efa_device_errors_total", "counter", "",
         "Errors (link down events) on one EFA device.", "efa", EFA_LABELS),
    _ext("neuron_job_info", "info", "",
         "A job running on the instance (one series on each of the job's instances).", "job",
         ("job_id", "job_name", "job_kind", "model")),
    _ext("neuron_job_step_seconds", "gauge", "seconds",
         "Duration of the job's last step (exported by the job's first instance only).",
         "job_leader", ("job_id",)),
    _ext("neuron_job_mfu_ratio", "gauge", "ratio",
         "Model FLOPs utilization of the job (exported by the job's first instance only).",
         "job_leader", ("job_id",)),
    _ext("neuron_job_tokens_total", "counter", "",
         "Tokens processed by the job (exported by the job's first instance only).",
         "job_leader", ("job_id",)),
    _ext("neuron_job_restarts_total", "counter", "",
         "Times the job crashed and restarted from its last checkpoint (exported by the "
         "job's first instance only).", "job_leader", ("job_id",)),
    _ext("neuron_job_goodput_seconds_total", "counter", "seconds",
         "Seconds of the job's life by goodput state: productive, checkpoint, loading, lost "
         "(work since the last checkpoint at a crash), requeue, queue (first instance only).",
         "job_leader", ("job_id", "state"), enums=(("state", GOODPUT_STATES),)),
    _ext("neuron_job_cost_dollars_total", "counter", "dollars",
         "What the job's instances have cost while it held them, all its restarts included, "
         "in the fleet's pricing currency (exported by the job's first instance only).",
         "job_leader", ("job_id",)),
    _ext("neuron_job_cost_dollars_per_hour", "gauge", "",
         "The job's burn rate: the hourly price of the instances it holds now (first "
         "instance only).", "job_leader", ("job_id",)),
    _ext("neuron_job_tokens_per_dollar", "gauge", "",
         "Tokens the job processed per unit of its cost so far (first instance only).",
         "job_leader", ("job_id",)),
    _ext("neuron_job_goodput_tokens_per_dollar", "gauge", "",
         "Tokens the job kept (not rolled back by a restart) per unit of its cost so far "
         "(first instance only).", "job_leader", ("job_id",)),
    _ext("neuron_job_effective_training_time_ratio", "gauge", "ratio",
         "Productive over allocated time of the job (exported by the job's first instance "
         "only).", "job_leader", ("job_id",)),
    _ext("neuron_job_time_to_first_token_seconds", "gauge", "seconds",
         "Time to first token of a serving job at its compiled static batch: prefill of one "
         "batch (exported by the job's first instance only, serving jobs only).",
         "serving_leader", ("job_id",)),
    _ext("neuron_job_inter_token_latency_seconds", "gauge", "seconds",
         "Inter-token latency of a serving job: its live decode step, 0 while it loads "
         "(exported by the job's first instance only, serving jobs only).",
         "serving_leader", ("job_id",)),
)

CATALOG: tuple[Metric, ...] = AWS_METRICS + EXTENSION_METRICS

# The daemon's own /metrics, rendered separately from any node.
SELF_METRICS: tuple[Metric, ...] = (
    _ext("trnmon_tick_duration_seconds", "gauge", "seconds",
         "Wall time the emulator's last tick took.", "daemon"),
    _ext("trnmon_render_duration_seconds", "gauge", "seconds",
         "Wall time the last node exposition took to render.", "daemon"),
    _ext("trnmon_emulated_chips", "gauge", "", "Neuron devices in the emulated fleet.",
         "daemon"),
    _ext("trnmon_emulated_nodes", "gauge", "", "Instances in the emulated fleet.", "daemon"),
    _ext("trnmon_tick", "gauge", "", "Ticks the emulator has run.", "daemon"),
)

_FAMILY = ("instance_family", FAMILIES)
_CAPACITY = ("state", tuple(st.label for st in CAPACITY_STATES))
_CAUSE = ("cause", CAUSE_NAMES)
# The fleet's series on the daemon's /metrics (trnmon/exporter/render.py), in exposition
# order: the scheduler's queue, waits, admission and goodput, then what capacity costs
# (trnmon/sim/costmeter.py) and the work interruptions threw away, by cause.
FLEET_METRICS: tuple[Metric, ...] = (
    _ext("neuron_fleet_queue_jobs", "gauge", "", "Jobs waiting in the queue, by instance "
         "family.", "fleet", ("instance_family",), enums=(_FAMILY,)),
    _ext("neuron_fleet_queue_wait_seconds", "histogram", "seconds",
         "Queue wait of placed jobs.", "fleet"),
    _ext("neuron_fleet_rejected_arrivals_total", "counter", "", "Arrivals rejected by "
         "admission control (queue full).", "fleet"),
    _ext("neuron_fleet_placements_total", "counter", "", "Jobs started or restarted on "
         "nodes.", "fleet"),
    _ext("neuron_fleet_goodput_chip_seconds_total", "counter", "seconds",
         "Chip-seconds of jobs by goodput state and job class.", "fleet",
         ("job_class", "state"), enums=(("job_class", ("training", "serving")),
                                        ("state", GOODPUT_STATES))),
    _ext("neuron_fleet_effective_training_time_ratio", "gauge", "ratio",
         "Productive over allocated chip-seconds of training jobs.", "fleet"),
    _ext("neuron_fleet_capacity_cost_dollars_total", "counter", "dollars",
         "What the fleet's instances have cost, by instance family and state (productive, "
         "idle: allocated but unused, checkpoint_restart, unallocated, unhealthy), in the "
         "pricing currency.", "fleet", ("instance_family", "state"),
         enums=(_FAMILY, _CAPACITY)),
    _ext("neuron_fleet_capacity_cost_dollars_per_hour", "gauge", "",
         "The fleet's burn rate now, by instance family and state.", "fleet",
         ("instance_family", "state"), enums=(_FAMILY, _CAPACITY)),
    _ext("neuron_fleet_pricing_info", "info", "", "The currency every cost metric is in.",
         "fleet", ("currency",)),
    _ext("neuron_fleet_lost_chip_seconds_total", "counter", "seconds",
         "Chip-seconds interruptions threw away, by instance family and the taxonomy cause "
         "of the interruption: work since the last checkpoint, time stalled behind a hang, "
         "and the reload after the restart.", "fleet", ("instance_family", "cause"),
         enums=(_FAMILY, _CAUSE)),
    _ext("neuron_fleet_lost_cost_dollars_total", "counter", "dollars",
         "What the lost chip-seconds cost, by instance family and cause, at the family's "
         "per-chip rate in the fleet, in the pricing currency.", "fleet",
         ("instance_family", "cause"), enums=(_FAMILY, _CAUSE)),
    _ext("neuron_node_replacements_total", "counter", "", "Nodes drained after a hard "
         "failure and replaced by a new instance, by instance family.", "fleet",
         ("instance_family",), enums=(_FAMILY,)),
)
BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOG + FLEET_METRICS + SELF_METRICS}

_PER = {"node": "instance", "device": "device", "core": "logical core", "link": "link",
        "efa": "EFA device", "job": "job", "job_leader": "job", "serving_leader": "serving job",
        "daemon": "daemon", "fleet": "fleet"}


def _label_text(m: Metric) -> str:
    parts = []
    for name in m.labels:
        enum = dict(m.enums).get(name)
        const = dict(m.const).get(name)
        if enum is not None:
            parts.append(f"`{name}`=" + "\\|".join(enum))
        elif const is not None:
            parts.append(f'`{name}`="{const}"')
        else:
            parts.append(f"`{name}`")
    if m.runtime:
        parts.insert(0, "`runtime_tag`")
    return ", ".join(parts) or "–"


_BASE_TEXT = {6: "AWS", 1: "`instance_id`", 0: "–"}


def markdown_table(metrics: tuple[Metric, ...] = CATALOG) -> str:
    """The catalog as a Markdown table (README). "AWS" base labels are instance_name,
    instance_id, instance_type, availability_zone, region and subnet_id."""
    rows = ["| Metric | Type | Unit | Per | Base labels | Other labels | Description |",
            "|---|---|---|---|---|---|---|"]
    for m in metrics:
        rows.append(f"| `{m.name}` | {m.type} | {m.unit or '–'} | {_PER[m.scope]} | "
                    f"{_BASE_TEXT[len(m.base_labels)]} | {_label_text(m)} | {m.help} |")
    return "\n".join(rows)
