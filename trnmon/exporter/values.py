"""One node's metric values from the snapshot arrays, in the layout's series order.

Each entry of ``node_values`` is a flat array whose order matches `layout.scope_items`:
scope items (devices, node-wide logical cores, valid ports) outer, enum label values inner.
Everything is numpy on the node's contiguous chip range; nothing loops per series.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from trnmon.exporter.catalog import CATALOG
from trnmon.exporter.layout import NodeLayout
from trnmon.sim.rules import GOODPUT_STATES, HOST_BASE_MEM
from trnmon.sim.state import HBM_CATEGORIES, LinkState
from trnmon.snapshot import FleetSnapshot, JobView

Array = npt.NDArray[np.float64]
_ONE = np.ones(1)
_ZERO = np.zeros(1)
_HEALTH_CODES = np.arange(5)
_LINK_CODES = np.arange(len(LinkState))


def _logical(per_core: npt.NDArray[np.float32], lay: NodeLayout, how: str = "mean",
             ) -> npt.NDArray[np.float32]:
    """(chips, K[, E]) physical-core values -> (chips * logical, [E]) logical-core values.

    Utilization and engine activity average over a logical core's physical cores (AWS's
    v3d figure is the mean, reference §4.3); FLOP/s add up."""
    n = lay.chips.stop - lay.chips.start
    phys = per_core[lay.chips, :lay.physical_per_chip]
    grouped = phys.reshape(n, lay.logical_per_chip, lay.lnc, *phys.shape[2:])
    out = grouped.mean(axis=2) if how == "mean" else grouped.sum(axis=2)
    result: npt.NDArray[np.float32] = out.reshape(n * lay.logical_per_chip, *phys.shape[2:])
    return result


def node_values(snap: FleetSnapshot, lay: NodeLayout,
                jobs: dict[int, JobView]) -> dict[str, npt.ArrayLike]:
    """Values of every catalog metric for one node, keyed by metric name."""
    st, topo, c, node = snap.state, snap.topology, lay.chips, lay.node
    itype = topo.instance_type(node)
    hbm = st.hbm_used[c]
    hbm_total_dev = hbm.sum(axis=1)
    per_core_hbm = np.repeat(hbm / np.float32(lay.logical_per_chip), lay.logical_per_chip,
                             axis=0)
    lat = snap.latency_percentiles(c)
    ran = lat[:, 3] > 0
    latency = lat[ran].mean(axis=0) if ran.any() else np.zeros(lat.shape[1])
    links = lay.link_index
    leaders = [jobs[j.job_id] for j in lay.jobs if j.leader]
    serving = [jobs[j.job_id] for j in lay.jobs if j.leader and j.serving]
    vals: dict[str, npt.ArrayLike] = {
        "neuroncore_utilization_ratio": _logical(st.core_util, lay),
        "neuron_runtime_memory_used_bytes": (
            max(float(st.host_mem_used[node]) - HOST_BASE_MEM, 0.0), float(hbm_total_dev.sum())),
        "neuron_runtime_vcpu_usage_ratio": (st.runtime_vcpu_user[node],
                                            st.runtime_vcpu_system[node]),
        "execution_status_total": st.exec_status[c].sum(axis=0),
        "execution_errors_total": st.exec_errors[c].sum(axis=0),
        "execution_latency_seconds": latency,
        "hardware_ecc_events_total": st.ecc[c],
        "system_vcpu_count": float(itype.vcpus),
        "system_vcpu_usage_ratio": (min(float(st.host_vcpu_user[node]), 1.0),
                                    min(float(st.host_vcpu_system[node]), 1.0)),
        "system_memory_total_bytes": float(itype.host_memory_bytes),
        "system_memory_used_bytes": st.host_mem_used[node],
        "system_swap_total_bytes": _ZERO,
        "system_swap_used_bytes": _ZERO,
        "instance_info": _ONE,
        "neuron_hardware_info": _ONE,
        "neuroncore_engine_active_ratio": _logical(st.core_engine, lay),
        "neuroncore_flops": _logical(st.core_flops, lay, "sum"),
        "neuron_device_hbm_used_bytes": hbm_total_dev,
        "neuron_device_hbm_total_bytes": snap.hbm_capacity[c],
        "neuron_device_hbm_bandwidth_utilization_ratio": st.hbm_bw_util[c],
        "neuron_device_power_watts": st.power_w[c],
        "neuron_device_energy_joules_total": st.energy_j[c],
        "neuron_device_temperature_celsius": st.temp_c[c],
        "neuron_device_throttled": st.throttled[c],
        "neuron_device_clock_ratio": st.clock_scale[c],
        "neuron_device_health_state": st.health[c][:, None] == _HEALTH_CODES,
        "neuronlink_tx_bytes_total": st.link_tx_bytes[c].ravel()[links],
        "neuronlink_rx_bytes_total": snap.link_rx_bytes[c].ravel()[links],
        "neuronlink_errors_total": st.link_errors[c].ravel()[links],
        "neuronlink_state": st.link_state[c].ravel()[links][:, None] == _LINK_CODES,
        "neuron_efa_tx_bytes_total": st.efa_tx_bytes[node],
        "neuron_efa_rx_bytes_total": st.efa_rx_bytes[node],
        "neuron_efa_device_up": st.efa_state[node, :lay.efa_devices] != LinkState.DOWN,
        "neuron_efa_device_tx_bytes_total": st.efa_dev_tx_bytes[node, :lay.efa_devices],
        "neuron_efa_device_rx_bytes_total": st.efa_dev_rx_bytes[node, :lay.efa_devices],
        "neuron_efa_device_errors_total": st.efa_dev_errors[node, :lay.efa_devices],
        "neuron_job_info": np.ones(len(lay.jobs)),
        "neuron_job_step_seconds": [j.step_s for j in leaders],
        "neuron_job_mfu_ratio": [j.mfu for j in leaders],
        "neuron_job_tokens_total": [j.tokens_total for j in leaders],
        "neuron_job_restarts_total": [float(j.restarts) for j in leaders],
        "neuron_job_goodput_seconds_total": np.array(
            [[getattr(j, f"{k}_s") for k in GOODPUT_STATES] for j in leaders],
            dtype=np.float64).reshape(len(leaders), len(GOODPUT_STATES)),
        "neuron_job_cost_dollars_total": [j.cost_dollars for j in leaders],
        "neuron_job_cost_dollars_per_hour": [j.cost_per_hour for j in leaders],
        "neuron_job_tokens_per_dollar": [j.tokens_per_dollar for j in leaders],
        "neuron_job_goodput_tokens_per_dollar": [j.goodput_tokens_per_dollar for j in leaders],
        "neuron_job_effective_training_time_ratio": [j.effective_training_time
                                                     for j in leaders],
        "neuron_job_time_to_first_token_seconds": [j.ttft_s for j in serving],
        "neuron_job_inter_token_latency_seconds": [j.itl_s for j in serving],
    }
    for i, cat in enumerate(HBM_CATEGORIES):
        vals[f"neuroncore_memory_usage_{cat}"] = per_core_hbm[:, i]
    return vals


def fill(snap: FleetSnapshot, lay: NodeLayout, jobs: dict[int, JobView]) -> Array:
    """The node's values as one flat float64 buffer in template order."""
    vals = node_values(snap, lay, jobs)
    buf = np.empty(lay.series, dtype=np.float64)
    at = 0
    for m in CATALOG:
        n = lay.counts[m.name]
        buf[at:at + n] = np.ravel(vals[m.name])
        at += n
    return buf
