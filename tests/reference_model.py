"""A plain-Python, one-device-at-a-time model of the device tick (trnmon/sim/kernel.py).

It is deliberately naive: loops over chips, cores, engines, ports and nodes, reading the
hardware catalog directly. The tests run one Engine with the fast kernel and one with this
model from the same seed and check that every state array agrees.
"""

from __future__ import annotations

import math

from trnmon.hw.catalog import CHIPS, INSTANCE_TYPES, ChipKind
from trnmon.sim.jobs import ENGINE_MIX, JobTable
from trnmon.sim.kernel import HOST_BASE_MEM, THROTTLE_CLOCK, THROTTLE_HYSTERESIS_C, TickInputs
from trnmon.sim.state import FleetState, Health, LinkState
from trnmon.sim.workloads import JobKind
from trnmon.topology import PortKind, Topology


class ReferenceModel:
    def __init__(self, topo: Topology, core_weight: list[list[float]]) -> None:
        self.topo = topo
        self.core_weight = core_weight  # static per-core load shares, drawn by the engine

    def advance(self, st: FleetState, jobs: JobTable, inp: TickInputs) -> None:
        topo, dt = self.topo, inp.dt
        for c in range(topo.n_chips):
            spec = CHIPS[ChipKind(int(topo.chip_kind[c]))]
            j = int(inp.chip_job[c])
            h = int(st.health[c])
            working = h in (Health.HEALTHY, Health.DEGRADED)
            hung = h == Health.HUNG
            up = h != Health.LOST
            clock = float(st.clock_scale[c])

            busy = min(1.0, float(jobs.busy[j]) * float(jobs.clock[j]) / clock)
            busy = busy if working else 0.0
            if hung:
                busy = 1.0
            st.chip_busy[c] = busy
            kind = int(jobs.kind[j])
            idle = j == jobs.idle_slot
            cores = spec.physical_cores
            flops_chip = float(jobs.flops[j]) if working else 0.0
            per_util = flops_chip / (busy * cores) if busy > 0 else 0.0
            for k in range(st.core_util.shape[1]):
                w = self.core_weight[c][k] if k < cores else 0.0
                u = min(1.0, busy * w)
                st.core_util[c, k] = u
                for e in range(4):
                    st.core_engine[c, k, e] = 0.0 if idle else u * float(ENGINE_MIX[kind, e])
                st.core_flops[c, k] = u * per_util

            # HBM
            resident = working or hung
            used = [float(x) for x in jobs.hbm_static[j]]
            used[0] += float(jobs.kv_bytes[j])
            used = [x if resident else 0.0 for x in used]
            over = sum(used) - spec.hbm_bytes
            if over > 0:
                used[0] = max(0.0, used[0] - over)
            for i, x in enumerate(used):
                st.hbm_used[c, i] = x
            bw = float(jobs.hbm_bw[j]) * clock if working else 0.0
            st.hbm_bw_util[c] = bw

            # power, energy
            activity = 0.6 if hung else 0.65 * busy + 0.35 * float(st.hbm_bw_util[c])
            span = spec.max_watts - spec.idle_watts
            power = (spec.idle_watts + span * activity * clock * clock) if up else 0.0
            st.power_w[c] = power
            st.energy_j[c] += float(st.power_w[c]) * dt

            # thermal
            alpha = 1.0 - math.exp(-dt / spec.thermal_time_constant_s)
            steady = float(inp.ambient_c[c]) + spec.thermal_resistance_c_per_w * float(
                st.power_w[c])
            st.temp_c[c] += (steady - float(st.temp_c[c])) * alpha
            t = float(st.temp_c[c])
            was = bool(st.throttled[c])
            now_throttled = t > spec.throttle_celsius or (
                was and t > spec.throttle_celsius - THROTTLE_HYSTERESIS_C)
            st.throttled[c] = now_throttled and up
            st.clock_scale[c] = THROTTLE_CLOCK if st.throttled[c] else 1.0

            # health
            link_bad = any(int(s) != LinkState.UP for s in st.link_state[c])
            if h <= Health.DEGRADED:
                st.health[c] = Health.DEGRADED if (st.throttled[c] or link_bad) else (
                    Health.HEALTHY)

            # executions
            if working:
                st.exec_status[c, 0] += float(jobs.exec_rate[j]) * dt
            st.latency_p50_s[c] = float(jobs.latency[j]) if working else 0.0

            # links
            for p in range(st.link_tx_bytes.shape[1]):
                pk = int(topo.port_kind[c, p])
                rate = 0.0
                if pk == PortKind.INTRA_NODE:
                    rate = float(jobs.intra_rate[j])
                elif pk == PortKind.ULTRASERVER:
                    rate = float(jobs.ring_rate[j])
                if int(st.link_state[c, p]) == LinkState.DOWN or not working:
                    rate = 0.0
                st.link_tx_bytes[c, p] += rate * dt

        for n in range(topo.n_nodes):
            itype = INSTANCE_TYPES[int(topo.node_type[n])]
            nj = int(inp.node_job[n])
            has = nj >= 0
            slot = nj if has else jobs.idle_slot
            up = bool(st.node_up[n])
            efa = float(jobs.efa_rate[slot]) * dt if up else 0.0
            st.efa_tx_bytes[n] += efa
            st.efa_rx_bytes[n] += efa
            training = int(jobs.kind[slot]) in (JobKind.PRETRAIN, JobKind.FINETUNE)
            share = (0.14 if training else 0.07) * float(jobs.busy[slot]) if has else 0.0
            st.runtime_vcpu_user[n] = share * 0.8 if up else 0.0
            st.runtime_vcpu_system[n] = share * 0.2 if up else 0.0
            st.host_vcpu_user[n] = (0.015 + share * 1.3) if up else 0.0
            st.host_vcpu_system[n] = (0.008 + share * 0.35) if up else 0.0
            job_mem = (0.28 if training else 0.12) * itype.host_memory_bytes if has else 0.0
            st.host_mem_used[n] = (HOST_BASE_MEM + job_mem) if up else 0.0
