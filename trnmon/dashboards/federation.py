"""The sharded metrics tier: one Prometheus per `trnmon daemon --shard I/N`, and either a
global Prometheus federating a small set of series from all of them, or (at 500k chips)
Prometheus agents remote-writing everything to a central receiver.

Remote-write: each shard runs Prometheus in agent mode (`--enable-feature=agent`:
scrape and forward, no local queries or rules, `agent.yml`); the receiver (`receiver.yml`,
a Prometheus with `--web.enable-remote-write-receiver` standing in for VictoriaMetrics,
Mimir or Thanos Receive, which take the same protocol) evaluates the recording, node and
alert rules over the whole fleet. Switching stores changes only `remote_write.url`.

Each shard Prometheus scrapes its daemon's /sd (only that shard's nodes), evaluates the
usual recording and alerting rules plus the per-node and per-device aggregates below, and
labels everything it exports with `shard`. The global Prometheus pulls `/federate` with
`FEDERATE_MATCH`: the recording-rule aggregates, `up` of every node, the per-device
series the fleet heatmap needs and the job series: ~5 series per chip instead of ~100.
`neuron-top --prometheus URL` reads exactly this set (trnmon/sources/prometheus.py).
"""

from __future__ import annotations

from trnmon.dashboards.rules import Recording
from trnmon.dashboards.yamltext import Value
from trnmon.exporter import names
from trnmon.exporter.names import SCRAPE_JOB

NODE = ("instance_id",)
DEVICE = ("instance_id", "neuron_device")


def _r(record: str, expr: str) -> Recording:
    return Recording(record, expr)


# Per-node and per-device aggregates, evaluated where the raw series are (each shard
# Prometheus, or the remote-write receiver). Their definitions follow trnmon/snapshot's
# node_summary (a chip is busy above 5 %). Counts are sums of 0/1 series (`> bool`,
# state-set gauges), so every node has a series and a healthy node reads 0, not nothing.
NODE_RULES: list[Recording] = [
    _r(names.DEVICE_UTILIZATION,
       "avg by (instance_id, neuron_device) (neuroncore_utilization_ratio)"),
    _r(names.NODE_UTILIZATION, f"avg by (instance_id) ({names.DEVICE_UTILIZATION})"),
    _r(names.NODE_DEVICES, "count by (instance_id) (neuron_device_power_watts)"),
    _r(names.NODE_BUSY, f"sum by (instance_id) ({names.DEVICE_UTILIZATION} > bool 0.05)"),
    _r(names.NODE_UNHEALTHY,
       'sum by (instance_id) (neuron_device_health_state{state=~"failed|hung|lost"})'),
    _r(names.NODE_THROTTLED, "sum by (instance_id) (neuron_device_throttled)"),
    _r(names.NODE_POWER, "sum by (instance_id) (neuron_device_power_watts)"),
    _r(names.NODE_HBM_USED, "sum by (instance_id) (neuron_device_hbm_used_bytes)"),
    _r(names.NODE_HBM_TOTAL, "sum by (instance_id) (neuron_device_hbm_total_bytes)"),
    _r(names.NODE_TEMPERATURE, "max by (instance_id) (neuron_device_temperature_celsius)"),
]

PER_DEVICE = ("neuron_device_power_watts", "neuron_device_hbm_used_bytes",
              "neuron_device_hbm_total_bytes", "neuron_device_temperature_celsius")
JOB_SERIES = ("neuron_job_info", "neuron_job_step_seconds", "neuron_job_mfu_ratio",
              "neuron_job_tokens_total")

# What the global layer pulls from each shard: aggregates, `up`, heatmap inputs, jobs.
FEDERATE_MATCH: tuple[str, ...] = (
    '{__name__=~"(fleet|availability_zone|rack|ultraserver|job_id|instance_id'
    '|instance_device):.+"}',
    f'up{{job="{SCRAPE_JOB}"}}',
    '{__name__=~"' + "|".join(PER_DEVICE) + '"}',
    '{__name__=~"' + "|".join(JOB_SERIES) + '"}',
)

SHARD_RULE_FILES = ("recording.yml", "alerts.yml", "node-rules.yml")


def node_rule_groups() -> Value:
    return {"groups": [{"name": "trnmon-node-aggregates", "rules": [
        {"record": r.record, "expr": r.expr} for r in NODE_RULES]}]}


def shard_prometheus_config(*, sd_url: str, shard: str, daemon_target: str,
                            interval: str = "15s",
                            rule_files: tuple[str, ...] = SHARD_RULE_FILES) -> Value:
    """One shard's Prometheus: the single-daemon config plus a `shard` external label."""
    return {
        "global": {"scrape_interval": interval, "scrape_timeout": interval,
                   "evaluation_interval": interval,
                   # Added to every federated series: which shard a node lives in.
                   "external_labels": {"shard": shard}},
        "rule_files": list(rule_files),
        "scrape_configs": [
            {"job_name": SCRAPE_JOB, "honor_labels": True,
             "http_sd_configs": [{"url": sd_url, "refresh_interval": "1m"}],
             "relabel_configs": [{"source_labels": ["instance"],
                                  "target_label": "instance_id"}]},
            {"job_name": "trnmon-daemon", "static_configs": [{"targets": [daemon_target]}]},
        ],
    }


def global_prometheus_config(*, shard_targets: list[str], interval: str = "15s") -> Value:
    """The global layer: federates FEDERATE_MATCH from every shard Prometheus.

    `honor_labels` keeps the shards' job/instance labels (so `up{job="trnmon-nodes"}` is
    each node's, not the federation target's)."""
    return {
        "global": {"scrape_interval": interval, "scrape_timeout": interval,
                   "evaluation_interval": interval},
        "scrape_configs": [
            {"job_name": "trnmon-federate", "honor_labels": True, "metrics_path": "/federate",
             "params": {"match[]": list(FEDERATE_MATCH)},
             "static_configs": [{"targets": shard_targets}]},
        ],
    }


RECEIVER_RULE_FILES = ("recording.yml", "node-rules.yml", "alerts.yml")
REMOTE_WRITE_URL = "http://127.0.0.1:9090/api/v1/write"


def agent_prometheus_config(*, sd_url: str, shard: str, daemon_target: str,
                            remote_write_url: str = REMOTE_WRITE_URL,
                            interval: str = "15s") -> Value:
    """One shard's Prometheus agent: scrape the shard, label it, write it all upstream."""
    cfg = dict(shard_prometheus_config(sd_url=sd_url, shard=shard, daemon_target=daemon_target,
                                       interval=interval, rule_files=()))  # type: ignore[arg-type]
    del cfg["rule_files"]  # an agent evaluates no rules
    glob = dict(cfg["global"])  # type: ignore[arg-type]
    del glob["evaluation_interval"]
    cfg["global"] = glob
    cfg["remote_write"] = [{"url": remote_write_url,
                            # Batches sized for ~100 series per chip at 15 s.
                            "queue_config": {"max_samples_per_send": 10000,
                                             "capacity": 50000, "max_shards": 50}}]
    return cfg


def receiver_prometheus_config(*, interval: str = "15s",
                               rule_files: tuple[str, ...] = RECEIVER_RULE_FILES,
                               alertmanager: str = "127.0.0.1:9093") -> Value:
    """The central store: receives remote writes, evaluates every rule, sends alerts."""
    return {
        "global": {"evaluation_interval": interval},
        "rule_files": list(rule_files),
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
    }
