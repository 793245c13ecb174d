"""neuron-monitor's names (reference §4): metric groups, their legacy 1.x aliases, fields.

Shared by the report writer, the config reader and the parser so that each name is
spelled once.
"""

from __future__ import annotations

RUNTIME_GROUPS = ("neuroncore_counters", "memory_used", "neuron_runtime_vcpu_usage",
                  "execution_stats")
SYSTEM_GROUPS = ("neuron_hw_counters", "vcpu_usage", "memory_info")
# Neuron 1.x names still found in old configs and captures (reference §4.1).
LEGACY_GROUPS = {"inference_stats": "execution_stats", "hw_counters": "neuron_hw_counters",
                 "nc_counters": "neuroncore_counters",
                 "runtime_cpu_usage": "neuron_runtime_vcpu_usage"}

HOST_MEMORY = ("application_memory", "constants", "dma_buffers", "tensors")
# Shares of a runtime's host memory by category (emulated; neuron-monitor's host breakdown).
HOST_MEMORY_SHARE = {"application_memory": 0.15, "constants": 0.05, "dma_buffers": 0.2,
                     "tensors": 0.6}
# Subgraph device breakdown has no scratchpad (reference §4.3).
SUBGRAPH_DEVICE = ("constants", "model_code", "runtime_memory", "tensors")
VCPU_FIELDS = ("user", "nice", "system", "idle", "io_wait", "irq", "soft_irq")

DEFAULT_PERIOD_S = 5.0


def canonical_group(name: str) -> str:
    """The current name of a metric group (legacy 1.x names map to their successors)."""
    return LEGACY_GROUPS.get(name, name)
