"""The per-device tick: from what each job is doing to every core, chip, link and node.

One pass of array expressions, in phases: gather job rates to chips, cores and engines,
HBM, power and energy, the RC thermal model and throttling, counters, host. No Python loop
over devices; large (chips x cores x engines) products write into preallocated buffers.
`trnmon/sim/reference.py` does the same per device in plain Python, and the tests check
the two agree. Every coefficient and code comes from `trnmon/sim/rules.py`, and the
formulas are `trnmon/sim/formulas.py`'s, called here on arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trnmon.hw.catalog import CHIPS, INSTANCE_TYPES
from trnmon.sim import formulas
from trnmon.sim.fused import fused_kernel
from trnmon.sim.jobs import JobTable
from trnmon.sim.rules import (
    ENGINE_MIX_T,
    HOST_MEM_SERVING,
    HOST_MEM_TRAINING,
    HUNG_ACTIVITY,
    INTRA_PORTS,
    RUNTIME_VCPU_SERVING,
    RUNTIME_VCPU_TRAINING,
    THROTTLE_CLOCK,
    Health,
    JobKind,
    LinkState,
)
from trnmon.sim.state import EXEC_COMPLETED, FleetState
from trnmon.sim.structs import ChipConstants, ChipInputs, DeviceArrays, JobRates, gather
from trnmon.topology import PortKind, Topology

F32 = npt.NDArray[np.float32]

BLOCK_CHIPS = 8192  # numpy path: chips per cache block (its arrays stay in L2)
FUSED_MIN_CHIPS = 16_384  # fleets this big use the numba kernel when numba is installed


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
    """The device tick and the per-chip constants it needs (power, thermal, HBM capacity,
    core weights drawn at start, link masks derived from the link states)."""

    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        # "numba": one fused pass per chip (trnmon/sim/fused.py) for fleets big enough to
        # repay loading numba; "numpy": array passes. Both are tested against the reference.
        self.backend = "numba" if topo.n_chips >= FUSED_MIN_CHIPS else "numpy"
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
        self._hbm_table = np.zeros((topo.n_nodes + 1, 5), dtype=np.float32)
        self.intra_up = self.is_intra.copy()
        self.ring_up = self.is_ring.copy()
        self.port_share = self.is_intra + self.is_ring
        self.link_bad = np.zeros(c, dtype=np.bool_)
        # EFA: each up device carries 1 / (up devices) of its node's traffic; a node whose
        # devices are all down sends nothing (`efa_ok` 0; nodes without EFA keep theirs).
        self.efa_valid = topo.efa_valid.astype(np.float64)
        self.efa_share = self.efa_valid / np.maximum(topo.node_efa_devices, 1)[:, None]
        self.efa_ok = np.ones(topo.n_nodes, dtype=np.float64)
        self.efa_up_fraction = np.ones(topo.n_nodes, dtype=np.float64)
        self._efa = np.zeros(self.efa_share.shape, dtype=np.float64)
        self._bundle_cache: tuple[FleetState, ChipConstants, DeviceArrays] | None = None

    def set_core_weights(self, chips: npt.NDArray[np.intp], weights: F32) -> None:
        """Per-core share of a chip's work, set at placement (load imbalance is static)."""
        self.core_weight[chips] = weights * self.topo.core_valid[chips]

    def refresh_links(self, dev: FleetState) -> None:
        """Link-derived masks; called only when a link changes state (an event). A downed
        port's bytes move to the chip's other ports of the same kind (the collective
        routes around it), so each up port carries ports / up ports of its kind's share."""
        up = (dev.link_state != LinkState.DOWN).astype(np.float32)
        for kind, out in ((self.is_intra, self.intra_up), (self.is_ring, self.ring_up)):
            np.multiply(kind, up, out=out)
            n_up = out.sum(axis=1, keepdims=True)
            factor = np.divide(kind.sum(axis=1, keepdims=True), n_up,
                               out=np.zeros_like(n_up), where=n_up > 0)
            out *= factor
        np.add(self.intra_up, self.ring_up, out=self.port_share)
        self.link_bad[:] = (dev.link_state != LinkState.UP).any(axis=1)
        self.refresh_efa(dev)

    def refresh_efa(self, dev: FleetState) -> None:
        """EFA shares from the device states (on a link event): a downed device's traffic
        moves to its node's other devices, and the node's EFA bandwidth falls to the up
        fraction (`efa_up_fraction`, which slows the exposed communication of multi-node
        jobs: trnmon/sim/engine.py)."""
        up = self.efa_valid * (dev.efa_state != LinkState.DOWN)
        n_up = up.sum(axis=1)
        n_valid = self.efa_valid.sum(axis=1)
        inv = np.divide(1.0, n_up, out=np.zeros_like(n_up), where=n_up > 0)
        np.multiply(up, inv[:, None], out=self.efa_share)
        self.efa_ok[:] = (n_up > 0) | (n_valid == 0)
        self.efa_up_fraction[:] = np.divide(n_up, n_valid, out=np.ones_like(n_up),
                                            where=n_valid > 0)

    def advance(self, dev: FleetState, jobs: JobTable, inp: TickInputs) -> None:
        # Every per-job rate a chip reads, as one small float32 table (9 x jobs; the rows
        # are named by structs.RATE_*).
        table = np.stack([jobs.busy * jobs.clock, jobs.flops, jobs.hbm_bw, jobs.kv_bytes,
                          jobs.exec_rate, jobs.latency, jobs.intra_rate, jobs.ring_rate,
                          jobs.hbm_static.sum(axis=1)]).astype(np.float32)
        hbm_table = self._hbm32(jobs)
        if inp.dt != self._alpha_dt:
            self._alpha[:] = formulas.thermal_alpha(inp.dt, self.tau)
            self._alpha_dt = inp.dt
        fused = fused_kernel() if self.backend == "numba" else None
        if fused is not None:
            fused(ChipInputs(inp.dt, inp.chip_job, inp.ambient_c),
                  JobRates(np.ascontiguousarray(table.T), hbm_table, ENGINE_MIX_T, jobs.kind),
                  *self._bundles(dev))
        else:
            # Cache blocking: each block's arrays stay in L2 across the ~40 passes below.
            n = self.topo.n_chips
            for lo in range(0, n, BLOCK_CHIPS):
                self._chips(dev, jobs, inp, table, hbm_table,
                            slice(lo, min(lo + BLOCK_CHIPS, n)))
        self._nodes(dev, jobs, inp)

    def _bundles(self, dev: FleetState) -> tuple[ChipConstants, DeviceArrays]:
        """The numba kernel's per-chip bundles; arrays are never rebound, so built once
        per device state."""
        if self._bundle_cache is None or self._bundle_cache[0] is not dev:
            consts = ChipConstants(self.core_weight, self.cores, self.idle_w, self.span_w,
                                   self.r_th, self._alpha, self.throttle_c, self.hbm_cap,
                                   self.topo.port_kind, self.link_bad, self.port_share)
            self._bundle_cache = (dev, consts, gather(DeviceArrays, dev))
        return self._bundle_cache[1], self._bundle_cache[2]

    def _chips(self, dev: FleetState, jobs: JobTable, inp: TickInputs, table: F32,
               hbm_table: F32, s: slice) -> None:
        dt = inp.dt
        j = inp.chip_job[s]
        health = dev.health[s]
        clock = dev.clock_scale[s]
        working = (health == Health.HEALTHY) | (health == Health.DEGRADED)
        hung = health == Health.HUNG
        up = health != Health.LOST
        (job_busy, job_flops, job_bw, job_kv, job_exec, job_lat, job_intra, job_ring,
         job_hbm) = np.take(table, j, axis=1)
        wf = working.astype(np.float32)

        # --- utilization: the job's busy share, slowed chips busy longer ----------------
        busy = formulas.chip_busy(job_busy, clock, wf)
        busy[hung] = 1.0  # a hung chip spins: busy with no progress
        dev.chip_busy[s] = busy
        core_util = dev.core_util[s]
        # busy <= 1 and core weights <= 1, so the product needs no clipping
        np.multiply(busy[:, None], self.core_weight[s], out=core_util)
        mix = np.take(ENGINE_MIX_T, jobs.kind[j], axis=1)
        engine = dev.core_engine[s]
        for e in range(mix.shape[0]):
            np.multiply(core_util, mix[e][:, None], out=engine[:, :, e])
        with np.errstate(divide="ignore", invalid="ignore"):
            per_util = formulas.flops_per_util(job_flops, wf, busy, self.cores[s])
        np.multiply(core_util, np.where(busy > 0, per_util, np.float32(0.0))[:, None],
                    out=dev.core_flops[s])

        # --- HBM: the job's footprint plus the live KV cache; nothing on a dead runtime ----
        resident = working | hung
        hbm = dev.hbm_used[s]
        np.take(hbm_table, j, axis=0, out=hbm)
        gone = ~resident
        if gone.any():
            hbm[gone] = 0.0
        cap = self.hbm_cap[s]
        over = (job_hbm + job_kv) * resident > cap
        if over.any():  # tensors give way first; the model never exceeds capacity
            excess = hbm[over].sum(axis=1) - cap[over]
            hbm[over, 0] = np.maximum(hbm[over, 0] - excess, 0.0)
        bw_util = dev.hbm_bw_util[s]
        bw_util[:] = formulas.hbm_bw_util(job_bw, wf, clock)

        # --- power and energy: idle + dynamic share; DVFS cuts dynamic power when throttled
        activity = formulas.activity(busy, bw_util)
        activity[hung] = HUNG_ACTIVITY
        power = dev.power_w[s]
        power[:] = formulas.power(self.idle_w[s], self.span_w[s], activity, clock) * up
        dev.energy_j[s] += power * np.float64(dt)  # float64: the counter must not drift

        # --- RC thermal model, exact for a constant input over the tick ------------------
        temp = dev.temp_c[s]
        steady = formulas.steady_temp(inp.ambient_c[s], self.r_th[s], power)
        temp[:] = formulas.temp_step(temp, steady, self._alpha[s])
        throttled = dev.throttled[s]
        throttled[:] = formulas.throttling(temp, throttled, self.throttle_c[s])
        throttled &= up
        clock[:] = np.where(throttled, THROTTLE_CLOCK, 1.0)

        # --- health: DEGRADED is derived each tick; FAILED/HUNG/LOST come from faults -----
        soft = health <= Health.DEGRADED
        health[soft] = np.where(throttled[soft] | self.link_bad[s][soft], Health.DEGRADED,
                                Health.HEALTHY)

        # --- execution counters and latency ---------------------------------------------
        dev.exec_status[s, EXEC_COMPLETED] += formulas.counter_step(job_exec, wf, np.float64(dt))
        np.multiply(job_lat, wf, out=dev.latency_p50_s[s])

        # --- NeuronLink bytes: the first INTRA_PORTS inside the node, the rest the ring --
        scale = wf * np.float32(dt)
        port = self._port[s]
        q = INTRA_PORTS
        np.multiply((job_intra * scale)[:, None], self.intra_up[s, :q], out=port[:, :q])
        np.multiply((job_ring * scale)[:, None], self.ring_up[s, q:], out=port[:, q:])
        dev.link_tx_bytes[s] += port

    def _nodes(self, dev: FleetState, jobs: JobTable, inp: TickInputs) -> None:
        dt = inp.dt
        # --- node: EFA and host ----------------------------------------------------------
        nj = np.where(inp.node_job >= 0, inp.node_job, jobs.idle_slot)
        node_up = dev.node_up
        efa = jobs.efa_rate[nj] * dt * node_up * self.efa_ok
        dev.efa_tx_bytes += efa
        dev.efa_rx_bytes += efa
        # per EFA device: the up devices share the node's traffic evenly
        np.multiply(efa[:, None], self.efa_share, out=self._efa)
        dev.efa_dev_tx_bytes += self._efa
        dev.efa_dev_rx_bytes += self._efa
        jbusy = jobs.busy[nj]
        training = (jobs.kind[nj] == JobKind.PRETRAIN) | (jobs.kind[nj] == JobKind.FINETUNE)
        has_job = inp.node_job >= 0
        share = np.where(training, RUNTIME_VCPU_TRAINING, RUNTIME_VCPU_SERVING) * jbusy * has_job
        dev.runtime_vcpu_user[:] = formulas.runtime_vcpu_user(share) * node_up
        dev.runtime_vcpu_system[:] = formulas.runtime_vcpu_system(share) * node_up
        dev.host_vcpu_user[:] = formulas.host_vcpu_user(share) * node_up
        dev.host_vcpu_system[:] = formulas.host_vcpu_system(share) * node_up
        job_mem = np.where(training, HOST_MEM_TRAINING, HOST_MEM_SERVING) * self.node_mem * has_job
        dev.host_mem_used[:] = formulas.host_mem_used(job_mem) * node_up

    def _hbm32(self, jobs: JobTable) -> F32:
        """The per-job HBM table in float32 with the live KV cache in `tensors`."""
        np.copyto(self._hbm_table, jobs.hbm_static, casting="same_kind")
        self._hbm_table[:, 0] += jobs.kv_bytes
        return self._hbm_table
