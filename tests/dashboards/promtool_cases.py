"""promtool unit-test cases: for every alert, series that fire it and series that must not.

Each case is (alert, description, input series, eval time, expected alert labels). An empty
label list is a not-firing case. Times use promtool's series notation at a 1m interval.
"""

from __future__ import annotations

Series = list[tuple[str, str]]
Case = tuple[str, str, Series, str, list[dict[str, str]]]

A = 'instance_id="i-a", neuron_device="3"'
DEV = {"instance_id": "i-a", "neuron_device": "3"}
US = 'availability_zone="z", rack="r1", ultraserver="us1"'


def ecc(event: str, values: str, where: str = A) -> tuple[str, str]:
    return (f'hardware_ecc_events_total{{{where}, event_type="{event}"}}', values)


def util(values: str, where: str = A) -> Series:
    return [(f'neuroncore_utilization_ratio{{{where}, neuroncore="{c}"}}', values)
            for c in (12, 13)]


def completed(values: str, inst: str = "i-a") -> tuple[str, str]:
    return (f'execution_status_total{{instance_id="{inst}", status_type="completed"}}', values)


def link(state: str, values: str) -> tuple[str, str]:
    return (f'neuronlink_state{{{A}, link="0", state="{state}"}}', values)


LINK = {**DEV, "link": "0"}

CASES: list[Case] = [
    ("NeuronUncorrectableECC", "one uncorrectable HBM error fires at once",
     [ecc("mem_ecc_uncorrected", "0 0 1 1 1")], "3m",
     [{**DEV, "event_type": "mem_ecc_uncorrected"}]),
    ("NeuronUncorrectableECC", "SRAM too", [ecc("sram_ecc_uncorrected", "0 0 1 1 1")], "3m",
     [{**DEV, "event_type": "sram_ecc_uncorrected"}]),
    ("NeuronUncorrectableECC", "an old error stops firing after 15m; corrected never fire",
     [ecc("mem_ecc_uncorrected", "1x30"), ecc("mem_ecc_corrected", "0+50x30")], "25m", []),
    ("NeuronDeviceFailed", "a failed device without ECC errors fires after 1m",
     [(f'neuron_device_health_state{{{A}, state="failed"}}', "0 1x5")], "3m",
     [{**DEV, "state": "failed"}]),
    ("NeuronDeviceFailed", "an uncorrectable ECC failure pages only as ECC",
     [(f'neuron_device_health_state{{{A}, state="failed"}}', "0 1x5"),
      ecc("mem_ecc_uncorrected", "0 1x5")], "3m", []),
    ("NeuronDeviceFailed", "a healthy device does not",
     [(f'neuron_device_health_state{{{A}, state="failed"}}', "0x5")], "3m", []),
    ("NeuronCorrectableECCStorm", "500 corrected in 10m for 5m fires",
     [ecc("mem_ecc_corrected", "0+50x30")], "20m",
     [{**DEV, "event_type": "mem_ecc_corrected"}]),
    ("NeuronCorrectableECCStorm", "SRAM storm",
     [ecc("sram_ecc_corrected", "0+50x30")], "20m",
     [{**DEV, "event_type": "sram_ecc_corrected"}]),
    ("NeuronCorrectableECCStorm", "background rate (50 in 10m) does not",
     [ecc("mem_ecc_corrected", "0+5x30")], "20m", []),
    ("NeuronLinkDown", "down for 5m fires", [link("down", "0 1x10")], "5m",
     [{**LINK, "state": "down"}]),
    ("NeuronLinkDown", "a one-minute blip does not", [link("down", "0 0 1 0 0 0 0")], "5m", []),
    ("NeuronEFADeviceDown", "down for 4m fires",
     [('neuron_efa_device_up{instance_id="i-a", efa_device="rdmap48s27"}', "1 0x6")], "5m",
     [{"instance_id": "i-a", "efa_device": "rdmap48s27"}]),
    ("NeuronEFADeviceDown", "a one-minute blip does not",
     [('neuron_efa_device_up{instance_id="i-a", efa_device="rdmap48s27"}', "1 0 1x6")], "5m",
     []),
    ("NeuronLinkDegraded", "degraded for 8m fires", [link("degraded", "1x10")], "8m",
     [{**LINK, "state": "degraded"}]),
    ("NeuronLinkDegraded", "up does not",
     [link("degraded", "0 1 1 0x10"), link("up", "1 0 0 1x10")], "8m", []),
    ("NeuronDeviceThermalThrottling", "throttled for 8m fires",
     [(f"neuron_device_throttled{{{A}}}", "0 1x10")], "8m", [DEV]),
    ("NeuronDeviceThermalThrottling", "a 2m throttle does not",
     [(f"neuron_device_throttled{{{A}}}", "0 1 1 0x10")], "8m", []),
    ("NeuronDeviceHung", "busy with no completions for 10m fires",
     [*util("1x30"), completed("0+100x5 500x25")], "22m", [DEV]),
    ("NeuronDeviceHung", "busy and completing does not",
     [*util("1x30"), completed("0+100x30")], "22m", []),
    ("NeuronDeviceHung", "idle without completions does not",
     [*util("0x30"), completed("0x30")], "22m", []),
    ("NeuronNodeDown", "unscrapable for 4m fires",
     [('up{job="trnmon-nodes", instance="i-a", instance_id="i-a"}', "1 1 0x6")], "6m",
     [{"job": "trnmon-nodes", "instance": "i-a", "instance_id": "i-a"}]),
    ("NeuronNodeDown", "a one-scrape miss does not",
     [('up{job="trnmon-nodes", instance="i-a", instance_id="i-a"}', "1 0 1x6")], "6m", []),
    ("NeuronDeviceHBMNearCapacity", "97 % for 20m fires",
     [(f"neuron_device_hbm_used_bytes{{{A}}}", "97x20"),
      (f"neuron_device_hbm_total_bytes{{{A}}}", "100x20")], "20m", [DEV]),
    ("NeuronDeviceHBMNearCapacity", "90 % does not",
     [(f"neuron_device_hbm_used_bytes{{{A}}}", "90x20"),
      (f"neuron_device_hbm_total_bytes{{{A}}}", "100x20")], "20m", []),
    ("NeuronAllocatedIdle", "a job's device at 2 % for 35m fires",
     [*util("0.02x40"), ('neuron_job_info{instance_id="i-a", job_id="7"}', "1x40")], "35m",
     [DEV]),
    ("NeuronAllocatedIdle", "an idle device with no job does not",
     [*util("0.02x40")], "35m", []),
    ("NeuronAllocatedIdle", "loading or checkpointing (5 %) does not",
     [*util("0.05x40"), ('neuron_job_info{instance_id="i-a", job_id="7"}', "1x40")], "35m",
     []),
    ("NeuronJobRestarted", "restarted onto another leader (a new series) fires",
     [('neuron_job_restarts_total{instance_id="i-a", job_id="3"}', "0x5 stale"),
      ('neuron_job_restarts_total{instance_id="i-b", job_id="3"}', "_x7 1x5")], "10m",
     [{"job_id": "3"}]),
    ("NeuronJobRestarted", "restarted on the same leader fires",
     [('neuron_job_restarts_total{instance_id="i-a", job_id="3"}', "0x5 _x2 1x5")], "10m",
     [{"job_id": "3"}]),
    ("NeuronJobRestarted", "a job finishing and another starting does not",
     [('neuron_job_restarts_total{instance_id="i-a", job_id="3"}', "0x5 stale"),
      ('neuron_job_restarts_total{instance_id="i-a", job_id="4"}', "_x7 0x5")], "10m", []),
    ("NeuronJobRestarted", "a restart more than an hour ago does not",
     [('neuron_job_restarts_total{instance_id="i-a", job_id="3"}', "0x5 1x120")], "125m",
     []),
    ("NeuronUltraServerDown", "two of an UltraServer's nodes down fires",
     [(f'up{{job="trnmon-nodes", {US}, instance="i-{n}", instance_id="i-{n}"}}', "0x6")
      for n in "ab"] + [(f'up{{job="trnmon-nodes", {US}, instance="i-c", instance_id="i-c"}}',
                         "1x6")], "4m",
     [{"availability_zone": "z", "rack": "r1", "ultraserver": "us1"}]),
    ("NeuronUltraServerDown", "one node down, or standalone nodes down, does not",
     [(f'up{{job="trnmon-nodes", {US}, instance="i-a", instance_id="i-a"}}', "0x6"),
      (f'up{{job="trnmon-nodes", {US}, instance="i-b", instance_id="i-b"}}', "1x6"),
      ('up{job="trnmon-nodes", availability_zone="z", rack="r2", instance="i-x", '
       'instance_id="i-x"}', "0x6"),
      ('up{job="trnmon-nodes", availability_zone="z", rack="r2", instance="i-y", '
       'instance_id="i-y"}', "0x6")], "4m", []),
    ("NeuronUltraServerDown", "keeps firing while the last nodes come back (keep_firing_for)",
     [(f'up{{job="trnmon-nodes", {US}, instance="i-a", instance_id="i-a"}}', "0x4 1x8"),
      (f'up{{job="trnmon-nodes", {US}, instance="i-b", instance_id="i-b"}}', "0x12")], "8m",
     [{"availability_zone": "z", "rack": "r1", "ultraserver": "us1"}]),
    ("NeuronUltraServerDown", "and resolves once keep_firing_for has passed",
     [(f'up{{job="trnmon-nodes", {US}, instance="i-a", instance_id="i-a"}}', "0x4 1x8"),
      (f'up{{job="trnmon-nodes", {US}, instance="i-b", instance_id="i-b"}}', "0x12")], "11m",
     []),
]


def promtool_tests() -> list[dict[str, object]]:
    tests: list[dict[str, object]] = []
    for alert, _, series, at, expected in CASES:
        tests.append({
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series],
            "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": [
                {"exp_labels": {**labels, "severity": _severity(alert)}}
                for labels in expected]}]})
    # One recording rule checked by value: rack aggregates keep zone and rack only.
    tests.append({
        "interval": "1m",
        "input_series": [
            {"series": 'neuron_device_power_watts{availability_zone="z", rack="r1", '
                       'instance_id="i-a", neuron_device="0"}', "values": "100x5"},
            {"series": 'neuron_device_power_watts{availability_zone="z", rack="r1", '
                       'instance_id="i-b", neuron_device="0"}', "values": "150x5"}],
        "promql_expr_test": [{"expr": "rack:neuron_device_power_watts:sum", "eval_time": "2m",
                              "exp_samples": [{
                                  "labels": 'rack:neuron_device_power_watts:sum'
                                            '{availability_zone="z", rack="r1"}',
                                  "value": 250}]}]})
    return tests


def _severity(alert: str) -> str:
    from trnmon.dashboards.rules import alert_rules

    return next(a.severity for a in alert_rules() if a.alert == alert)
