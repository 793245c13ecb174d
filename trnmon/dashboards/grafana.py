"""The Grafana dashboards: Fleet overview, Node / device, Jobs, and Cost and goodput.

Every query is built with `sel()`, so metric names come from the exporter catalog or the
recording rules and the topology filters (availability zone → rack → UltraServer →
instance → device) are applied wherever a metric carries the label.
"""

from __future__ import annotations

from typing import Any

from trnmon.dashboards import rules
from trnmon.dashboards.panels import (
    ANY_BAD,
    CRITICAL_C,
    OK_WARN_BAD,
    TEMPERATURE,
    Panel,
    bargauge,
    dashboard,
    heatmap,
    query_variable,
    repeat,
    row,
    stat,
    table,
    timeseries,
    topology_variables,
)
from trnmon.dashboards.promql import sel
from trnmon.exporter.names import JOB_RESTARTS, SCRAPE_JOB

assert rules.RECORDINGS  # recording-rule names are registered before they are selected

RATE = "[$__rate_interval]"
DEV = ("instance_id", "neuron_device")


def n(name: str, **m: str) -> str:
    """Node-filtered selector."""
    return sel(name, scope="node", **m)


def d(name: str, **m: str) -> str:
    """Device-filtered selector."""
    return sel(name, scope="device", **m)


def _links() -> list[dict[str, Any]]:
    return [{"type": "dashboards", "tags": ["trnmon"], "asDropdown": False,
             "includeVars": True, "keepTime": True, "title": "trnmon"}]


def _device_util(name: str = "neuroncore_utilization_ratio") -> str:
    return f"avg by (instance_id, neuron_device) ({d(name)})"


def fleet_overview() -> dict[str, Any]:
    up = n("up", job=SCRAPE_JOB)
    health = d("neuron_device_health_state")
    hbm_ratio = (f"sum by (instance_id, neuron_device) ({d('neuron_device_hbm_used_bytes')})"
                 f" / sum by (instance_id, neuron_device) "
                 f"({d('neuron_device_hbm_total_bytes')})")
    rack_f = {"availability_zone": "=~$availability_zone", "rack": "=~$rack"}
    us_f = {**rack_f, "ultraserver": "=~$ultraserver"}
    panels: list[Panel] = [
        row("Fleet health"),
        stat("Nodes up", f"sum({up})"),
        stat("Nodes down", f"sum(1 - {up})", steps=ANY_BAD),
        stat("Chips", f"sum({health})"),
        stat("Chips not healthy", f'sum({d("neuron_device_health_state", state="!=healthy")})',
             steps=ANY_BAD),
        stat("NeuronLink ports down", f'sum({d("neuronlink_state", state="down")})',
             steps=ANY_BAD),
        stat("Running jobs",
             f"count(count by (job_id) ({n('neuron_job_info')})) or vector(0)"),
        bargauge("Chips by health state", [(f"sum by (state) ({health})", "{{state}}")],
                 w=8, h=6),
        stat("Fleet utilization", f"avg({d('neuroncore_utilization_ratio')})",
             unit="percentunit", w=4, h=6),
        stat("Fleet power", f"sum({d('neuron_device_power_watts')})", unit="watt", w=4, h=6),
        stat("HBM in use", f"sum({d('neuron_device_hbm_used_bytes')}) / "
             f"sum({d('neuron_device_hbm_total_bytes')})", unit="percentunit",
             steps=OK_WARN_BAD, w=4, h=6),
        stat("Hottest device", f"max({d('neuron_device_temperature_celsius')})",
             unit="celsius", steps=TEMPERATURE, w=4, h=6),
        row("Utilization and power"),
        timeseries("NeuronCore utilization by availability zone",
                   [(f"avg by (availability_zone) ({d('neuroncore_utilization_ratio')})",
                     "{{availability_zone}}"),
                    (sel("fleet:neuroncore_utilization_ratio:avg"), "fleet")],
                   unit="percentunit", minimum=0, maximum=1),
        timeseries("Power by rack", [(sel("rack:neuron_device_power_watts:sum", **rack_f),
                                      "{{rack}}")], unit="watt", stack=True),
        heatmap("Utilization by rack",
                sel("rack:neuroncore_utilization_ratio:avg", **rack_f), "{{rack}}"),
        heatmap("Utilization by UltraServer",
                sel("ultraserver:neuroncore_utilization_ratio:avg", **us_f),
                "{{ultraserver}}"),
        row("Memory and interconnect"),
        timeseries("HBM used by rack", [(
            f'{sel("rack:neuron_device_hbm_used_bytes:sum", **rack_f)} / '
            f'{sel("rack:neuron_device_hbm_total_bytes:sum", **rack_f)}', "{{rack}}")],
            unit="percentunit", steps=OK_WARN_BAD, minimum=0, maximum=1, w=8),
        bargauge("Fullest HBM (top 10 devices)",
                 [(f"topk(10, {hbm_ratio})", "{{instance_id}} nd{{neuron_device}}")],
                 unit="percentunit", steps=OK_WARN_BAD, minimum=0, maximum=1, w=8),
        timeseries("NeuronLink ports not up", [(
            f'sum by (state) ({d("neuronlink_state", state="!=up")})', "{{state}}")],
            steps=ANY_BAD, w=8),
        timeseries("NeuronLink throughput by rack", [(
            sel("rack:neuronlink_tx_bytes:rate1m", **rack_f), "{{rack}}")],
            unit="Bps", stack=True),
        timeseries("ECC events", [(
            f"sum by (event_type) (increase({d('hardware_ecc_events_total')}{RATE}))",
            "{{event_type}}")], steps=ANY_BAD),
        row("Top devices"),
        bargauge("Hottest devices (top 10)", [(
            f"topk(10, max by (instance_id, neuron_device) "
            f"({d('neuron_device_temperature_celsius')}))",
            "{{instance_id}} nd{{neuron_device}}")],
            unit="celsius", steps=TEMPERATURE, minimum=20, maximum=CRITICAL_C),
        bargauge("Busiest devices (top 10)", [(
            f"topk(10, {_device_util()})", "{{instance_id}} nd{{neuron_device}}")],
            unit="percentunit", minimum=0, maximum=1),
        row("Jobs"),
        table("Jobs", f"count by (job_id, job_name, job_kind, model) "
                      f"({n('neuron_job_info')})", w=12,
              description="Value: instances the job runs on."),
        timeseries("Tokens per second by job", [(
            f"sum by (job_id) (rate({n('neuron_job_tokens_total')}{RATE}))", "job {{job_id}}")],
            unit="short", stack=True),
    ]
    return dashboard("trnmon-fleet", "Trainium fleet overview",
                     "Fleet health, utilization, power, HBM, NeuronLink, ECC, hottest and "
                     "busiest devices, jobs.", panels, topology_variables(),
                     tags=("fleet",), links=_links())


def node_device() -> dict[str, Any]:
    inst = "{{instance_id}}"
    panels: list[Panel] = [
        row("Instance $instance_id", repeat="instance_id"),
        table("Instance", n("instance_info"), w=24, h=4,
              hide=("Time", "__name__", "Value", "job", "instance")),
        timeseries("Execution status", [(
            f"sum by (status_type) (rate({n('execution_status_total')}{RATE}))",
            "{{status_type}}")], unit="ops", w=8),
        timeseries("Execution errors", [(
            f"sum by (error_type) (rate({n('execution_errors_total')}{RATE}))",
            "{{error_type}}")], unit="ops", steps=ANY_BAD, w=8),
        timeseries("Execution latency", [(
            f"max by (percentile) ({n('execution_latency_seconds')})", "{{percentile}}")],
            unit="s", w=8),
        timeseries("EFA throughput", [
            (f"rate({n('neuron_efa_tx_bytes_total')}{RATE})", "tx"),
            (f"rate({n('neuron_efa_rx_bytes_total')}{RATE})", "rx")], unit="Bps", w=8),
        timeseries("EFA tx per device", [(
            f"sum by (efa_device) (rate({n('neuron_efa_device_tx_bytes_total')}{RATE}))",
            "{{efa_device}}")], unit="Bps", w=8),
        timeseries("EFA devices up", [
            (f"sum({n('neuron_efa_device_up')})", "up"),
            (f"count({n('neuron_efa_device_up')})", "devices")], minimum=0, w=8),
        timeseries("Host vCPU", [
            (f"sum by (usage_type) ({n('system_vcpu_usage_ratio')})", "host {{usage_type}}"),
            (f"sum by (usage_type) ({n('neuron_runtime_vcpu_usage_ratio')})",
             "runtime {{usage_type}}")], unit="percentunit", minimum=0, w=8),
        timeseries("Host and runtime memory", [
            (n("system_memory_used_bytes"), "host used"),
            (n("system_memory_total_bytes"), "host total"),
            (f"sum by (memory_location) ({n('neuron_runtime_memory_used_bytes')})",
             "runtime on {{memory_location}}")], unit="bytes", w=8),
        row("Device $neuron_device", repeat="neuron_device"),
        timeseries("Utilization per NeuronCore", [(
            f"avg by (instance_id, neuroncore) ({d('neuroncore_utilization_ratio')})",
            f"{inst} nc{{{{neuroncore}}}}")], unit="percentunit", minimum=0, maximum=1,
            w=8),
        timeseries("Engine activity", [(
            f"avg by (instance_id, engine) ({d('neuroncore_engine_active_ratio')})",
            f"{inst} {{{{engine}}}}")], unit="percentunit", minimum=0, maximum=1, w=8),
        timeseries("FLOP/s", [(f"sum by (instance_id) ({d('neuroncore_flops')})", inst)],
                   unit="flops", w=8),
        timeseries("HBM breakdown", [
            (f"sum by (instance_id) ({d(f'neuroncore_memory_usage_{cat}')})", f"{inst} {cat}")
            for cat in ("tensors", "constants", "model_code", "model_shared_scratchpad",
                        "runtime_memory")] + [
            (f"sum by (instance_id) ({d('neuron_device_hbm_total_bytes')})",
             f"{inst} capacity")], unit="bytes", stack=False, w=8),
        timeseries("HBM bandwidth", [(
            d("neuron_device_hbm_bandwidth_utilization_ratio"), inst)],
            unit="percentunit", minimum=0, maximum=1, w=8),
        timeseries("Power", [(d("neuron_device_power_watts"), inst)], unit="watt", w=8),
        timeseries("Temperature", [(d("neuron_device_temperature_celsius"), inst)],
                   unit="celsius", steps=TEMPERATURE, w=8),
        timeseries("Clock and throttling", [
            (d("neuron_device_clock_ratio"), f"{inst} clock"),
            (d("neuron_device_throttled"), f"{inst} throttled")],
            unit="percentunit", minimum=0, maximum=1, w=8),
        bargauge("Health state", [(f"{d('neuron_device_health_state')} == 1",
                                   f"{inst} {{{{state}}}}")], w=8, h=8),
        timeseries("NeuronLink tx per port", [(
            f"sum by (instance_id, link, peer_instance_id, peer_device) "
            f"(rate({d('neuronlink_tx_bytes_total')}{RATE}))",
            f"{inst} link {{{{link}}}} → {{{{peer_instance_id}}}} nd{{{{peer_device}}}}")],
            unit="Bps", w=8),
        timeseries("NeuronLink rx per port", [(
            f"sum by (instance_id, link) (rate({d('neuronlink_rx_bytes_total')}{RATE}))",
            f"{inst} link {{{{link}}}}")], unit="Bps", w=8),
        timeseries("NeuronLink errors per port", [(
            f"sum by (instance_id, link) (increase({d('neuronlink_errors_total')}{RATE}))",
            f"{inst} link {{{{link}}}}")], steps=ANY_BAD, w=8),
        table("NeuronLink port states", f"{d('neuronlink_state')} == 1", w=12,
              hide=("Time", "__name__", "Value", "job", "instance", "instance_name",
                    "region", "availability_zone", "availability_zone_id", "datacenter",
                    "row", "rack", "ultraserver", "instance_type")),
        timeseries("ECC events", [(
            f"sum by (instance_id, event_type) (increase({d('hardware_ecc_events_total')}"
            f"{RATE}))", f"{inst} {{{{event_type}}}}")], steps=ANY_BAD, w=12),
    ]
    return dashboard("trnmon-node", "Trainium node / device",
                     "Per instance: execution, EFA, host. Per device (one row per selected "
                     "device): cores, engines, HBM, power, temperature, every NeuronLink, "
                     "ECC.", panels, topology_variables(), tags=("node",), links=_links())


def jobs() -> dict[str, Any]:
    job = {"job_id": "=~$job_id"}
    info = n("neuron_job_info", **job)
    util_by_node = f"avg by (instance_id) ({d('neuroncore_utilization_ratio')})"
    per_job = f"max by (instance_id, job_id) ({info})"
    variables = [*topology_variables(devices=False), query_variable(
        "job_id", 'label_values(neuron_job_info{instance_id=~"$instance_id"}, job_id)',
        label="job")]
    panels: list[Panel] = [
        table("Jobs", f"count by (job_id, job_name, job_kind, model) ({info})", w=12,
              description="Value: instances the job runs on."),
        bargauge("Restarts in the time range", [(
            f"max_over_time({sel(JOB_RESTARTS, **job)}[$__range])"
            f" - min_over_time({sel(JOB_RESTARTS, **job)}[$__range])",
            "job {{job_id}}")], steps=ANY_BAD, minimum=0, w=12,
            description="Crash-and-restart cycles per job (neuron_job_restarts_total); "
                        "0 for a job that ran cleanly."),
        timeseries("Step time", [(n("neuron_job_step_seconds", **job), "job {{job_id}}")],
                   unit="s", w=12),
        timeseries("Model FLOPs utilization", [(n("neuron_job_mfu_ratio", **job),
                                                "job {{job_id}}")],
                   unit="percentunit", minimum=0, maximum=1, w=12),
        timeseries("Tokens per second", [(
            f"sum by (job_id) (rate({n('neuron_job_tokens_total', **job)}{RATE}))",
            "job {{job_id}}")], unit="short", w=12),
        timeseries("Device utilization per job", [(
            f"avg by (job_id) ({util_by_node} * on (instance_id) group_left (job_id) "
            f"{per_job})", "job {{job_id}}")], unit="percentunit", minimum=0, maximum=1,
            w=12),
        repeat(timeseries("Job $job_id: power", [(
            f"sum by (job_id) (sum by (instance_id) ({d('neuron_device_power_watts')}) "
            f"* on (instance_id) group_left (job_id) {per_job})", "job {{job_id}}")],
            unit="watt", w=8, h=6), "job_id", max_per_row=3),
    ]
    return dashboard("trnmon-jobs", "Trainium jobs",
                     "Step time, MFU, tokens/s and restarts per job.", panels, variables,
                     tags=("jobs",), links=_links())


def cost_goodput() -> dict[str, Any]:
    """What jobs cost and what they buy: burn rate, tokens per dollar, goodput, lost work."""
    job = {"job_id": "=~$job_id"}
    info = n("neuron_job_info", **job)
    by_model = f"max by (instance_id, job_id, model) ({info})"
    variables = [*topology_variables(devices=False), query_variable(
        "job_id", 'label_values(neuron_job_info{instance_id=~"$instance_id"}, job_id)',
        label="job")]
    per_hour = n("neuron_job_cost_dollars_per_hour", **job)
    # Fleet series come from the daemon's own /metrics: no node labels to filter by.
    fleet_burn = sel("neuron_fleet_capacity_cost_dollars_per_hour")
    lost_s = sel("neuron_fleet_lost_chip_seconds_total")
    lost_usd = sel("neuron_fleet_lost_cost_dollars_total")
    panels: list[Panel] = [
        row("Fleet"),
        stat("Fleet burn rate", f"sum({fleet_burn})", unit="currencyUSD", w=6,
             description="What every instance of the fleet costs per hour now, allocated "
                         "or not (neuron_fleet_capacity_cost_dollars_per_hour)."),
        timeseries("Burn rate by family and state", [(
            f"sum by (instance_family, state) ({fleet_burn})",
            "{{instance_family}} {{state}}")], unit="currencyUSD", stack=True, w=12,
            description="productive, idle (allocated but unused), checkpoint_restart, "
                        "unallocated, unhealthy."),
        stat("Fleet effective training time",
             sel("neuron_fleet_effective_training_time_ratio"), unit="percentunit", w=6),
        bargauge("Lost work by cause in the time range", [(
            f"sum by (cause) (increase({lost_s}[$__range])) / 3600", "{{cause}}")],
            unit="short", minimum=0, w=12,
            description="Chip-hours interruptions threw away (work since the last "
                        "checkpoint, stalls behind hangs, reloads), by taxonomy cause."),
        timeseries("Lost dollars by family and cause", [(
            f"sum by (instance_family, cause) (increase({lost_usd}[$__rate_interval]))",
            "{{instance_family}} {{cause}}")], unit="currencyUSD", stack=True, w=12,
            description="What the lost chip-seconds cost, at the family's per-chip rate."),
        row("Jobs"),
        stat("Jobs' burn rate", f"sum({per_hour})", unit="currencyUSD", w=6,
             description="The hourly price of every instance a job holds (the fleet's "
                         "pricing, neuron_job_cost_dollars_per_hour)."),
        timeseries("Burn rate by job", [(f"sum by (job_id) ({per_hour})", "job {{job_id}}")],
                   unit="currencyUSD", stack=True, w=18),
        timeseries("Cost so far", [(
            f"sum by (job_id) ({n('neuron_job_cost_dollars_total', **job)})",
            "job {{job_id}}")], unit="currencyUSD", w=12),
        timeseries("Tokens per dollar by job and model", [(
            f"{n('neuron_job_tokens_per_dollar', **job)} * on (instance_id, job_id) "
            f"group_left (model) {by_model}", "job {{job_id}} {{model}}")], unit="short", w=12),
        timeseries("Goodput-adjusted tokens per dollar", [(
            f"{n('neuron_job_goodput_tokens_per_dollar', **job)} * on (instance_id, job_id) "
            f"group_left (model) {by_model}", "job {{job_id}} {{model}}")], unit="short", w=12,
            description="Tokens the job kept (steps a restart rolled back excluded) per "
                        "dollar."),
        timeseries("Effective training time", [(
            n("neuron_job_effective_training_time_ratio", **job), "job {{job_id}}")],
            unit="percentunit", minimum=0, maximum=1, w=12,
            description="Productive over allocated time of each job (Llama 3's effective "
                        "training time)."),
        timeseries("Time by goodput state", [(
            f"sum by (state) ({n('neuron_job_goodput_seconds_total', **job)})", "{{state}}")],
            unit="s", stack=True, w=12,
            description="Seconds of the selected jobs' lives by goodput state; lost is the "
                        "work since the last checkpoint that crashes threw away."),
        bargauge("Lost work in the time range", [(
            f"max_over_time({n('neuron_job_goodput_seconds_total', state='lost', **job)}"
            f"[$__range]) - min_over_time("
            f"{n('neuron_job_goodput_seconds_total', state='lost', **job)}[$__range])",
            "job {{job_id}}")], unit="s", steps=ANY_BAD, minimum=0, w=12),
        repeat(timeseries("Job $job_id: cost per hour and tokens per dollar", [
            (f"sum by (job_id) ({per_hour})", "$/h"),
            (f"max by (job_id) ({n('neuron_job_tokens_per_dollar', **job)})", "tokens/$")],
            unit="short", w=8, h=6), "job_id", max_per_row=3),
    ]
    return dashboard("trnmon-cost-goodput", "Cost and goodput",
                     "What each job costs per hour and so far, the tokens it buys per dollar, "
                     "its effective training time and the work failures threw away.", panels,
                     variables, tags=("jobs", "cost"), links=_links())


DASHBOARDS = {"fleet-overview": fleet_overview, "node-device": node_device, "jobs": jobs,
              "cost-goodput": cost_goodput}
