"""Names shared by the generated Prometheus files and the code that queries them.

The scrape job and the recording rules that `neuron-top --prometheus`
(trnmon/sources/prometheus.py) reads are defined here, low in the layering, so the rule
generator (trnmon/dashboards) and the reader (trnmon/sources) import one spelling instead
of repeating literals: renaming a rule here renames it in both.
"""

from __future__ import annotations

# The scrape job of the exporter's per-node targets (from the daemon's /sd).
SCRAPE_JOB = "trnmon-nodes"
# The daemon's own /metrics.
DAEMON_JOB = "trnmon-daemon"

# Per-device and per-node aggregates (dashboards/prometheus/node-rules.yml).
DEVICE_UTILIZATION = "instance_device:neuroncore_utilization_ratio:avg"
NODE_UTILIZATION = "instance_id:neuroncore_utilization_ratio:avg"
NODE_DEVICES = "instance_id:neuron_device:count"
NODE_BUSY = "instance_id:neuron_device_busy:count"
NODE_UNHEALTHY = "instance_id:neuron_device_unhealthy:count"
NODE_THROTTLED = "instance_id:neuron_device_throttled:sum"
NODE_POWER = "instance_id:neuron_device_power_watts:sum"
NODE_HBM_USED = "instance_id:neuron_device_hbm_used_bytes:sum"
NODE_HBM_TOTAL = "instance_id:neuron_device_hbm_total_bytes:sum"
NODE_TEMPERATURE = "instance_id:neuron_device_temperature_celsius:max"

# Per-job aggregates (dashboards/prometheus/recording.yml): one series per job whichever
# node leads it.
JOB_TOKENS_RATE = "job_id:neuron_job_tokens:rate1m"
JOB_RESTARTS = "job_id:neuron_job_restarts:max"
