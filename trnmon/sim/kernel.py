"""The per-device tick: from what each job is doing to every core, chip, link and node.

One pass of array expressions, in phases: gather job rates to chips, cores and engines,
HBM, power and energy, the RC thermal model and throttling, counters, host. No Python loop
over devices; large (chips x cores x engines) products write into preallocated buffers.
`tests/reference_model.py` does the same per device in plain Python, and the tests check
the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trnmon.hw.catalog import CHIPS, INSTANCE_TYPES
from trnmon.sim.jobs import ENGINE_MIX, JobTable
from trnmon.sim.state import FleetState, Health, LinkState
from trnmon.sim.workloads import JobKind
from trnmon.topology import PortKind, Topology

F32 = npt.NDArray[np.float32]

THROTTLE_CLOCK = 0.7  # clock fraction while throttled
THROTTLE_HYSTERESIS_C = 5.0
LINK_FACTOR = np.array([1.0, 0.5, 0.25], dtype=np.float64)  # up, degraded, down (rerouted)
HOST_BASE_MEM = 24 * 2**30
ENGINE_MIX_T = np.ascontiguousarray(ENGINE_MIX.T)  # (engines, job kinds)


def _per_kind(topo: Topology, attr: str) -> F32:
    table = np.array([getattr(CHIPS[k], attr) for k in sorted(CHIPS)], dtype=np.float32)
    return table[topo.chip_kind]


@dataclass(eq=False)
class TickInputs:
    """Everything the device kernel reads besides the state: set by the engine each tick."""

    dt: float
    chip_job: npt.NDArray[np.int32]
    node_job: npt.NDArray[np.int32]  # -1 = none
    ambient_c: F32  # per chip, including cooling faults


class DeviceKernel:
    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        c = topo.n_chips
        self.idle_w = _per_kind(topo, "idle_watts")
        self.span_w = _per_kind(topo, "max_watts") - self.idle_w
        self.r_th = _per_kind(topo, "thermal_resistance_c_per_w")
        self.tau = _per_kind(topo, "thermal_time_constant_s")
        self.throttle_c = _per_kind(topo, "throttle_celsius")
        self.hbm_cap = np.array([CHIPS[k].hbm_bytes for k in sorted(CHIPS)],
                                dtype=np.float32)[topo.chip_kind]
        self.cores = topo.chip_cores.astype(np.float32)
        self.core_weight = np.zeros((c, topo.core_valid.shape[1]), dtype=np.float32)
        self.is_intra = (topo.port_kind == PortKind.INTRA_NODE).astype(np.float32)
        self.is_ring = (topo.port_kind == PortKind.ULTRASERVER).astype(np.float32)
        node_types = topo.node_type
        vcpus = np.array([t.vcpus for t in INSTANCE_TYPES], dtype=np.float32)
        mem = np.array([t.host_memory_bytes for t in INSTANCE_TYPES], dtype=np.float32)
        self.node_vcpus = vcpus[node_types]
        self.node_mem = mem[node_types]
        self._alpha_dt = -1.0
        self._alpha = np.zeros(c, dtype=np.float32)
        # scratch
        self._port = np.zeros(topo.port_peer.shape, dtype=np.float32)
        self._port2 = np.zeros(topo.port_peer.shape, dtype=np.float32)
        self._hbm_table = np.zeros((topo.n_nodes + 1, 5), dtype=np.float32)
        self.intra_up = self.is_intra.copy()
        self.ring_up = self.is_ring.copy()
        self.link_bad = np.zeros(c, dtype=np.bool_)

    def set_core_weights(self, chips: npt.NDArray[np.intp], weights: F32) -> None:
        """Per-core share of a chip's work, set at placement (load imbalance is static)."""
        self.core_weight[chips] = weights * self.topo.core_valid[chips]

    def refresh_links(self, st: FleetState) -> None:
        """Link-derived masks; called only when a link changes state (an event)."""
        up = (st.link_state != LinkState.DOWN).astype(np.float32)
        np.multiply(self.is_intra, up, out=self.intra_up)
        np.multiply(self.is_ring, up, out=self.ring_up)
        self.link_bad[:] = (st.link_state != LinkState.UP).any(axis=1)

    def advance(self, st: FleetState, jobs: JobTable, inp: TickInputs) -> None:
        dt = inp.dt
        j = inp.chip_job
        health = st.health
        working = (health == Health.HEALTHY) | (health == Health.DEGRADED)
        hung = health == Health.HUNG
        up = health != Health.LOST

        # --- gather every per-chip job rate at once, in float32 ---------------------------
        # (the job table is small: converting it first makes one gather of 10 rows)
        table = np.stack([jobs.busy * jobs.clock, jobs.flops, jobs.hbm_bw, jobs.kv_bytes,
                          jobs.exec_rate, jobs.latency, jobs.intra_rate, jobs.ring_rate,
                          jobs.hbm_static.sum(axis=1)]).astype(np.float32)
        g = np.take(table, j, axis=1)
        (job_busy, job_flops, job_bw, job_kv, job_exec, job_lat, job_intra, job_ring,
         job_hbm) = g
        wf = working.astype(np.float32)

        # --- utilization: the job's busy share, slowed chips busy longer ----------------
        busy = job_busy / st.clock_scale
        np.minimum(busy, 1.0, out=busy)
        busy *= wf
        busy[hung] = 1.0  # a hung chip spins: busy with no progress
        st.chip_busy[:] = busy
        np.multiply(busy[:, None], self.core_weight, out=st.core_util)
        np.minimum(st.core_util, 1.0, out=st.core_util)
        mix = np.take(ENGINE_MIX_T, jobs.kind[j], axis=1)
        mix[:, j == jobs.idle_slot] = 0.0
        for e in range(mix.shape[0]):
            np.multiply(st.core_util, mix[e][:, None], out=st.core_engine[:, :, e])
        flops_per_util = np.divide(job_flops * wf, busy * self.cores,
                                   out=np.zeros(busy.shape, dtype=np.float32), where=busy > 0)
        np.multiply(st.core_util, flops_per_util[:, None], out=st.core_flops)

        # --- HBM: the job's footprint plus the live KV cache; nothing on a dead runtime ----
        resident = (working | hung).astype(np.float32)
        np.take(self._hbm32(jobs), j, axis=0, out=st.hbm_used)
        st.hbm_used[:, 0] += job_kv
        st.hbm_used *= resident[:, None]
        over = (job_hbm + job_kv) * resident > self.hbm_cap
        if over.any():  # tensors give way first; the model never exceeds capacity
            excess = st.hbm_used[over].sum(axis=1) - self.hbm_cap[over]
            st.hbm_used[over, 0] = np.maximum(st.hbm_used[over, 0] - excess, 0.0)
        np.multiply(job_bw * wf, st.clock_scale, out=st.hbm_bw_util)

        # --- power and energy: idle + dynamic share; DVFS cuts dynamic power when throttled
        activity = 0.65 * busy + 0.35 * st.hbm_bw_util
        activity[hung] = 0.6
        st.power_w[:] = (self.idle_w + self.span_w * activity * st.clock_scale ** 2) * up
        st.energy_j += st.power_w * np.float64(dt)  # float64: the counter must not drift

        # --- RC thermal model, exact for a constant input over the tick ------------------
        if dt != self._alpha_dt:
            self._alpha[:] = 1.0 - np.exp(-dt / self.tau)
            self._alpha_dt = dt
        steady = inp.ambient_c + self.r_th * st.power_w
        st.temp_c += (steady - st.temp_c) * self._alpha
        st.throttled[:] = (st.temp_c > self.throttle_c) | (
            st.throttled & (st.temp_c > self.throttle_c - THROTTLE_HYSTERESIS_C))
        st.throttled &= up
        st.clock_scale[:] = np.where(st.throttled, THROTTLE_CLOCK, 1.0)

        # --- health: DEGRADED is derived each tick; FAILED/HUNG/LOST come from faults -----
        soft = health <= Health.DEGRADED
        health[soft] = np.where(st.throttled[soft] | self.link_bad[soft], Health.DEGRADED,
                                Health.HEALTHY)

        # --- execution counters and latency ---------------------------------------------
        st.exec_status[:, 0] += job_exec * wf * np.float64(dt)
        np.multiply(job_lat, wf, out=st.latency_p50_s)

        # --- NeuronLink bytes: TP traffic on torus ports, DP on the UltraServer ring -----
        scale = wf * np.float32(dt)
        np.multiply((job_intra * scale)[:, None], self.intra_up, out=self._port)
        np.multiply((job_ring * scale)[:, None], self.ring_up, out=self._port2)
        self._port += self._port2
        st.link_tx_bytes += self._port

        # --- node: EFA and host ----------------------------------------------------------
        nj = np.where(inp.node_job >= 0, inp.node_job, jobs.idle_slot)
        node_up = st.node_up
        efa = jobs.efa_rate[nj] * dt * node_up
        st.efa_tx_bytes += efa
        st.efa_rx_bytes += efa
        jbusy = jobs.busy[nj]
        training = (jobs.kind[nj] == JobKind.PRETRAIN) | (jobs.kind[nj] == JobKind.FINETUNE)
        has_job = inp.node_job >= 0
        share = np.where(training, 0.14, 0.07) * jbusy * has_job
        st.runtime_vcpu_user[:] = share * 0.8 * node_up
        st.runtime_vcpu_system[:] = share * 0.2 * node_up
        st.host_vcpu_user[:] = (0.015 + share * 1.3) * node_up
        st.host_vcpu_system[:] = (0.008 + share * 0.35) * node_up
        job_mem = np.where(training, 0.28, 0.12) * self.node_mem * has_job
        st.host_mem_used[:] = (HOST_BASE_MEM + job_mem) * node_up

    def _hbm32(self, jobs: JobTable) -> F32:
        np.copyto(self._hbm_table, jobs.hbm_static, casting="same_kind")
        return self._hbm_table
