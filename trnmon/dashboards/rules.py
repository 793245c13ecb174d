"""Prometheus recording and alerting rules for a trnmon (or real Trainium) fleet.

Rules are data here and YAML in dashboards/prometheus/. Conditions that depend on time are
written with `increase()` over a range rather than per-second rates, so the end-to-end test
can run the emulator N times faster and divide every range and `for:` by N (`scaled()`):
the same expressions then mean the same thing in simulated time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from trnmon.dashboards.panels import CRITICAL_C
from trnmon.dashboards.promql import register_recorded, scale_ranges, seconds, sel
from trnmon.dashboards.yamltext import Value
from trnmon.exporter.names import JOB_RESTARTS, JOB_TOKENS_RATE, SCRAPE_JOB

# Where annotation links point: the generated runbook page and a Grafana at the README's
# address (edit GRAFANA_URL here, or override the annotation in Alertmanager templates).
RUNBOOK_URL = "https://github.com/trnmon/trnmon/blob/main/dashboards/runbooks.md"
GRAFANA_URL = "http://localhost:3000"

AZ_RACK = ("availability_zone", "rack")
US = (*AZ_RACK, "ultraserver")


@dataclass(frozen=True)
class Recording:
    record: str
    expr: str


@dataclass(frozen=True)
class Alert:
    alert: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: str
    fault: str  # what produces it in the emulator: a FaultKind value or a control action
    keep_firing_for: str = ""  # Prometheus >= 2.42; empty: resolve as soon as it stops

    @property
    def runbook_url(self) -> str:
        return f"{RUNBOOK_URL}#{self.alert.lower()}"

    @property
    def dashboard_url(self) -> str:
        """The Grafana dashboard that shows what fired, filtered to it."""
        if "job_id" in self.expr or self.alert == "NeuronJobRestarted":
            return f"{GRAFANA_URL}/d/trnmon-jobs?var-job_id={{{{ $labels.job_id }}}}"
        if self.alert == "NeuronUltraServerDown":
            return (f"{GRAFANA_URL}/d/trnmon-fleet?var-rack={{{{ $labels.rack }}}}"
                    "&var-ultraserver={{ $labels.ultraserver }}")
        return (f"{GRAFANA_URL}/d/trnmon-node?var-instance_id={{{{ $labels.instance_id }}}}"
                + ("&var-neuron_device={{ $labels.neuron_device }}"
                   if "$labels.neuron_device" in self.summary else ""))


def _rec(name: str, expr: str, labels: tuple[str, ...]) -> Recording:
    return Recording(register_recorded(name, labels), expr)


def _by(labels: tuple[str, ...]) -> str:
    return f"by ({', '.join(labels)}) " if labels else ""


def _agg(how: str, metric: str, levels: tuple[tuple[str, tuple[str, ...]], ...]
         ) -> list[Recording]:
    """`level:metric:how` = how by (level labels) (metric), one rule per level."""
    out = []
    for level, labels in levels:
        # UltraServer aggregates skip standalone nodes, whose ultraserver label is empty.
        src = sel(metric, ultraserver="!=") if level == "ultraserver" else sel(metric)
        out.append(_rec(f"{level}:{metric}:{how}", f"{how} {_by(labels)}({src})", labels))
    return out


FLEET_RACK = (("fleet", ()), ("rack", AZ_RACK))
ALL_LEVELS = (("fleet", ()), ("availability_zone", ("availability_zone",)),
              ("rack", AZ_RACK), ("ultraserver", US))


def recording_rules() -> list[Recording]:
    rules = _agg("avg", "neuroncore_utilization_ratio", ALL_LEVELS)
    for metric in ("neuron_device_power_watts", "neuron_device_hbm_used_bytes",
                   "neuron_device_hbm_total_bytes"):
        rules += _agg("sum", metric, FLEET_RACK)
    rules += _agg("max", "neuron_device_temperature_celsius", FLEET_RACK)
    for metric in ("neuronlink_tx_bytes_total", "neuron_efa_tx_bytes_total"):
        base = metric.removesuffix("_total")
        for level, labels in FLEET_RACK:
            rules.append(_rec(f"{level}:{base}:rate1m",
                              f"sum {_by(labels)}(rate({sel(metric)}[1m]))", labels))
    rules += [
        _rec("fleet:neuron_device_health_state:sum",
             f"sum by (state) ({sel('neuron_device_health_state')})", ("state",)),
        _rec("fleet:neuronlink_state:sum",
             f"sum by (state) ({sel('neuronlink_state')})", ("state",)),
        _rec("fleet:hardware_ecc_events:increase5m",
             f"sum by (event_type) (increase({sel('hardware_ecc_events_total')}[5m]))",
             ("event_type",)),
        _rec("fleet:up:sum", f'sum({sel("up", job=SCRAPE_JOB)})', ()),
        _rec("fleet:up:count", f'count({sel("up", job=SCRAPE_JOB)})', ()),
        # One series per job whatever node leads it: a restart may re-place the job on
        # another leader, which starts a new neuron_job_restarts_total series.
        _rec(JOB_RESTARTS, f"max by (job_id) ({sel('neuron_job_restarts_total')})",
             ("job_id",)),
        _rec(JOB_TOKENS_RATE,
             f"sum by (job_id) (rate({sel('neuron_job_tokens_total')}[1m]))", ("job_id",)),
    ]
    return rules


RECORDINGS = recording_rules()  # registers the names before any dashboard selects them

_UNCORRECTED = "mem_ecc_uncorrected|sram_ecc_uncorrected"
_CORRECTED = "mem_ecc_corrected|sram_ecc_corrected"
_WHERE = "{{ $labels.instance_id }} device {{ $labels.neuron_device }}"


def _device_util() -> str:
    return f"avg without (neuroncore) ({sel('neuroncore_utilization_ratio')})"


def alert_rules() -> list[Alert]:
    ecc = "hardware_ecc_events_total"
    return [
        Alert("NeuronUncorrectableECC",
              f'increase({sel(ecc, event_type="=~" + _UNCORRECTED)}[15m]) > 0', "0m",
              "critical", f"Uncorrectable {{{{ $labels.event_type }}}} on {_WHERE}",
              "An uncorrectable ECC error failed the device; the job on it crashed and "
              "restarts from its last checkpoint elsewhere.",
              "1. Drain the instance: no new jobs (the scheduler already avoids it).\n"
              "2. Check the Jobs dashboard: the job should restart within minutes.\n"
              "3. Open a hardware ticket with the instance id and device; an uncorrectable\n"
              "   HBM error needs the instance replaced, SRAM ones usually too.",
              "hbm_ecc_uncorrected,sram_ecc_uncorrected"),
        # A failed device with no uncorrectable ECC behind it (a faulty chip, detected silent
        # data corruption): the ECC alert already pages for the others.
        Alert("NeuronDeviceFailed",
              f'{sel("neuron_device_health_state", state="failed")} == 1\n'
              f"unless on (instance_id, neuron_device)\n"
              f'increase({sel(ecc, event_type="=~" + _UNCORRECTED)}[15m]) > 0', "1m",
              "critical", f"Device failed on {_WHERE}",
              "The device failed without an uncorrectable ECC error (a faulty chip, a "
              "detected silent data corruption, or a thermal shutdown above "
              f"{CRITICAL_C:.0f} C); the job on it crashed and restarts from its last "
              "checkpoint elsewhere, and the instance is drained for replacement.",
              "1. Drain the instance: no new jobs (the scheduler already avoids it).\n"
              "2. Check the Jobs dashboard: the job should restart within minutes; after a\n"
              "   silent data corruption, check its loss curve since the last checkpoint.\n"
              "3. Open a hardware ticket with the instance id and device: replace the instance.",
              "chip_failure,silent_data_corruption"),
        Alert("NeuronCorrectableECCStorm",
              f'increase({sel(ecc, event_type="=~" + _CORRECTED)}[10m]) > 100', "5m",
              "warning", f"Correctable ECC storm on {_WHERE}",
              "{{ $value | humanize }} corrected {{ $labels.event_type }} events in 10 "
              "minutes. Storms of correctable errors often precede an uncorrectable one.",
              "1. Check whether the rate is rising (Node/device dashboard, ECC panel).\n"
              "2. Checkpoint the job on this instance now and plan a drain.\n"
              "3. Replace the instance if the storm lasts more than an hour.",
              "hbm_ecc_corrected,sram_ecc_corrected"),
        Alert("NeuronLinkDown", f'{sel("neuronlink_state", state="down")} == 1', "2m",
              "critical", f"NeuronLink {{{{ $labels.link }}}} down on {_WHERE}",
              "Port {{ $labels.link }} to {{ $labels.peer_instance_id }} device "
              "{{ $labels.peer_device }} is down; collectives are rerouted and slow.",
              "1. Both ends alert: find the pair in the Node/device dashboard, Links row.\n"
              "2. If it is an UltraServer ring port, the whole UltraServer slows down.\n"
              "3. Reseat/replace the cable or the instance; the job keeps running slowly.",
              "link_down"),
        Alert("NeuronEFADeviceDown", f'{sel("neuron_efa_device_up")} == 0', "2m", "warning",
              "EFA device {{ $labels.efa_device }} down on {{ $labels.instance_id }}",
              "One EFA device of the instance is down: its traffic moved to the other "
              "devices and the instance's EFA bandwidth fell by its share, so multi-node "
              "jobs there run their collectives slower. The job that used it crashed.",
              "1. Check the instance's other EFA devices (Node/device dashboard).\n"
              "2. A NIC, cable or switch port: open a network ticket with the device name.\n"
              "3. Drain the instance if more devices go down or the device flaps.",
              "efa_down"),
        Alert("NeuronLinkDegraded", f'{sel("neuronlink_state", state="degraded")} == 1',
              "5m", "warning", f"NeuronLink {{{{ $labels.link }}}} degraded on {_WHERE}",
              "Port {{ $labels.link }} runs degraded (errors and retries); the job's "
              "collectives over it are slower.",
              "1. Check neuronlink_errors_total for the port: a steady rise confirms it.\n"
              "2. Compare the job's step time before and after (Jobs dashboard).\n"
              "3. Schedule a cable or instance replacement at the next checkpoint.",
              "link_degraded"),
        Alert("NeuronDeviceThermalThrottling",
              f"{sel('neuron_device_throttled')} == 1", "5m", "warning",
              f"Thermal throttling on {_WHERE}",
              "The device is above its throttle temperature and runs at a reduced clock; "
              "every job step waits for it.",
              "1. Compare with neighbouring devices in the rack (Fleet overview, hottest).\n"
              "2. One hot device: suspect its cooling; a hot rack: suspect the aisle.\n"
              "3. Move the job if the throttling lasts; file a facilities ticket.",
              "thermal_throttle"),
        Alert("NeuronDeviceHung",
              f"{_device_util()} > 0.9\nand on (instance_id)\n"
              f"sum by (instance_id) (increase("
              f'{sel("execution_status_total", status_type="completed")}[10m])) == 0',
              "5m", "critical", f"Device hung on {_WHERE}",
              "The device is fully busy but its instance completed no execution in 10 "
              "minutes: a hang. The job waits in a collective until its watchdog fails it.",
              "1. Confirm in the Node/device dashboard: utilization flat at 100 %,\n"
              "   execution status rate 0.\n"
              "2. Capture neuron-top/neuron-monitor output for the vendor ticket.\n"
              "3. Reset the device (reboot the instance); the job restarts elsewhere.",
              "chip_hang"),
        Alert("NeuronNodeDown", f'{sel("up", job=SCRAPE_JOB)} == 0', "2m", "critical",
              "Instance {{ $labels.instance }} is not reporting",
              "Prometheus cannot scrape the instance: it is down, unreachable or its "
              "exporter stopped. Jobs on it have crashed.",
              "1. Check the instance state in EC2 and its system log.\n"
              "2. Jobs on it restart from checkpoint elsewhere: watch the Jobs dashboard.\n"
              "3. Replace the instance if it does not come back.",
              "node_loss"),
        Alert("NeuronUltraServerDown",
              "count by (availability_zone, rack, ultraserver) (\n"
              f'  {sel("up", job=SCRAPE_JOB, ultraserver="!=")} == 0\n) >= 2',
              # Shorter than NeuronNodeDown's 2m: the UltraServer alert reaches Alertmanager
              # first and the per-node ones are inhibited from their first evaluation.
              "1m", "critical",
              "UltraServer {{ $labels.ultraserver }} in {{ $labels.rack }}: "
              "{{ $value }} instances down",
              "Two or more of the UltraServer's four instances stopped reporting: a shared "
              "power shelf, switch or rack failure rather than one host. Its instances' own "
              "alerts are inhibited while this fires.",
              "1. Check the rack's power and top-of-rack switch (facilities, network).\n"
              "2. Every job on the UltraServer crashed: they restart elsewhere only if\n"
              "   another whole UltraServer is free (Jobs dashboard, queue).\n"
              "3. Replace the UltraServer as one unit if it does not come back.",
              "node_loss on 2+ nodes of one UltraServer",
              # An UltraServer's nodes come back one by one (a scrape or more apart): if the
              # alert resolved when the count fell to one, the node still down would page
              # NeuronNodeDown in that gap. Keep firing until stragglers are back; a node
              # still down after that pages on its own, as it should.
              keep_firing_for="5m"),
        Alert("NeuronDeviceHBMNearCapacity",
              f"{sel('neuron_device_hbm_used_bytes')}\n  / {sel('neuron_device_hbm_total_bytes')}"
              " > 0.95", "15m", "warning", f"HBM above 95 % on {_WHERE}",
              "The device's HBM is {{ $value | humanizePercentage }} full; the next "
              "allocation (a longer sequence, a bigger batch, KV cache growth) may fail.",
              "1. Find the job on the instance (Jobs dashboard) and its memory breakdown\n"
              "   (Node/device dashboard, HBM panel).\n"
              "2. Training: shard more (ZeRO, pipeline stages) or cut the micro-batch.\n"
              "3. Serving: cap concurrency or the KV cache.",
              "submit:oversized job"),
        Alert("NeuronAllocatedIdle",
              f"{_device_util()} < 0.04\nand on (instance_id) {sel('neuron_job_info')}",
              "30m", "warning", f"Allocated but idle: {_WHERE}",
              "A job holds the device but has used under 4 % of it for 30 minutes: "
              "reserved capacity doing nothing (a stuck job, or serving with no traffic).",
              "1. Look up the job (Jobs dashboard) and ask its owner.\n"
              "2. A stalled training job: check for a hung device on another instance.\n"
              "3. Idle serving: scale it down and return the capacity.",
              "submit:idle serving job"),
        # Restarts in the last hour, exactly: the counter's span over the window (a
        # job's first restart may start a new series on another leader, which increase()
        # would not see).
        Alert("NeuronJobRestarted",
              f"max_over_time({sel(JOB_RESTARTS)}[1h])\n"
              f"  - min_over_time({sel(JOB_RESTARTS)}[1h]) > 0", "0m", "warning",
              "Job {{ $labels.job_id }} restarted {{ $value }} time(s) in the last hour",
              "The job crashed (a device or instance under it failed) and restarted from "
              "its last checkpoint, losing the work since.",
              "1. Find the failure that crashed it: uncorrectable ECC, hang or node down\n"
              "   alerts on the job's instances in the hour before.\n"
              "2. Repeated restarts: the job may be landing on the same bad hardware.\n"
              "3. Check the checkpoint interval if each restart loses a lot of work.",
              "hbm_ecc_uncorrected (then clear it so the job can restart)"),
    ]


def scaled(alerts: list[Alert], factor: float, *, min_range_s: int = 3,
           min_for_s: int = 1) -> list[Alert]:
    """The same alerts on a clock running `factor` times faster (tests only)."""
    def faster(duration: str, zero: str) -> str:
        s = seconds(duration) if duration else 0
        return f"{max(min_for_s, round(s / factor))}s" if s else zero

    return [replace(a, expr=scale_ranges(a.expr, factor, min_range_s),
                    for_=faster(a.for_, "0s"), keep_firing_for=faster(a.keep_firing_for, ""))
            for a in alerts]


def alert_groups(alerts: list[Alert], *, annotations: bool = True) -> Value:
    """The rule file; annotations=False for promtool unit tests, which compare them
    verbatim (the conditions are what the tests pin down, the text is checked by
    `promtool check rules`)."""
    def rule(a: Alert) -> dict[str, Value]:
        r: dict[str, Value] = {"alert": a.alert, "expr": a.expr, "for": a.for_,
                                "labels": {"severity": a.severity}}
        if a.keep_firing_for:
            r["keep_firing_for"] = a.keep_firing_for
        if annotations:
            r["annotations"] = {"summary": a.summary, "description": a.description,
                                "runbook": a.runbook, "runbook_url": a.runbook_url,
                                "dashboard": a.dashboard_url}
        return r
    return {"groups": [{"name": "trnmon-alerts", "rules": [rule(a) for a in alerts]}]}


def recording_groups(rules: list[Recording]) -> Value:
    # No group interval: the global evaluation_interval applies (15 s in the example).
    return {"groups": [{"name": "trnmon-aggregates", "rules": [
        {"record": r.record, "expr": r.expr} for r in rules]}]}
