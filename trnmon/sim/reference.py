"""The executable specification: the device and job ticks one device, one job at a time.

It is deliberately naive: loops over chips, cores, engines, ports, nodes and job slots,
reading the hardware catalog directly and every coefficient from `trnmon/sim/rules.py`.
`ReferenceModel.advance` is an `Engine(advance=...)` device tick; `reference_jobs_advance`
is `JobTable.advance` for one slot after another. The tests run an Engine with the fast
paths (numpy, numba) and one with these from the same seed and check that every state
array agrees; `trnmon bench core` times it against the fast paths.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from trnmon.config.model import FleetConfig
from trnmon.hw.catalog import CHIPS, INSTANCE_TYPES, ChipKind
from trnmon.sim import formulas, rules
from trnmon.sim.engine import Engine
from trnmon.sim.jobs import JobTable
from trnmon.sim.kernel import TickInputs
from trnmon.sim.rules import (
    ENGINE_MIX,
    THROTTLE_CLOCK,
    Health,
    JobKind,
    JobState,
    LinkState,
)
from trnmon.sim.state import EXEC_COMPLETED, FleetState
from trnmon.topology import PortKind, Topology


class ReferenceModel:
    """The device tick (`DeviceKernel.advance`) one chip, core, port and node at a time."""

    def __init__(self, topo: Topology, core_weight: list[list[float]]) -> None:
        self.topo = topo
        self.core_weight = core_weight  # static per-core load shares, drawn by the engine

    def advance(self, dev: FleetState, jobs: JobTable, inp: TickInputs) -> None:
        topo, dt = self.topo, inp.dt
        for c in range(topo.n_chips):
            spec = CHIPS[ChipKind(int(topo.chip_kind[c]))]
            j = int(inp.chip_job[c])
            h = int(dev.health[c])
            working = h in (Health.HEALTHY, Health.DEGRADED)
            hung = h == Health.HUNG
            up = h != Health.LOST
            clock = float(dev.clock_scale[c])

            busy = float(formulas.chip_busy(float(jobs.busy[j]) * float(jobs.clock[j]), clock,
                                            1.0 if working else 0.0))
            if hung:
                busy = 1.0
            dev.chip_busy[c] = busy
            kind = int(jobs.kind[j])
            idle = j == jobs.idle_slot
            cores = spec.physical_cores
            per_util = formulas.flops_per_util(float(jobs.flops[j]), 1.0 if working else 0.0,
                                               busy, cores) if busy > 0 else 0.0
            for k in range(dev.core_util.shape[1]):
                w = self.core_weight[c][k] if k < cores else 0.0
                u = min(1.0, busy * w)
                dev.core_util[c, k] = u
                for e in range(ENGINE_MIX.shape[1]):
                    dev.core_engine[c, k, e] = 0.0 if idle else u * float(ENGINE_MIX[kind, e])
                dev.core_flops[c, k] = u * per_util

            # HBM
            resident = working or hung
            used = [float(x) for x in jobs.hbm_static[j]]
            used[0] += float(jobs.kv_bytes[j])
            used = [x if resident else 0.0 for x in used]
            over = sum(used) - spec.hbm_bytes
            if over > 0:
                used[0] = max(0.0, used[0] - over)
            for i, x in enumerate(used):
                dev.hbm_used[c, i] = x
            dev.hbm_bw_util[c] = formulas.hbm_bw_util(float(jobs.hbm_bw[j]),
                                                      1.0 if working else 0.0, clock)

            # power, energy
            bw_util = float(dev.hbm_bw_util[c])
            activity = rules.HUNG_ACTIVITY if hung else formulas.activity(busy, bw_util)
            span = spec.max_watts - spec.idle_watts
            power = formulas.power(spec.idle_watts, span, activity, clock) if up else 0.0
            dev.power_w[c] = power
            dev.energy_j[c] += float(dev.power_w[c]) * dt

            # thermal
            alpha = formulas.thermal_alpha(dt, spec.thermal_time_constant_s)
            steady = formulas.steady_temp(float(inp.ambient_c[c]),
                                          spec.thermal_resistance_c_per_w, float(dev.power_w[c]))
            dev.temp_c[c] = formulas.temp_step(float(dev.temp_c[c]), steady, alpha)
            now_throttled = bool(formulas.throttling(float(dev.temp_c[c]), bool(dev.throttled[c]),
                                                     spec.throttle_celsius))
            dev.throttled[c] = now_throttled and up
            dev.clock_scale[c] = THROTTLE_CLOCK if dev.throttled[c] else 1.0

            # health
            link_bad = any(int(s) != LinkState.UP for s in dev.link_state[c])
            if h <= Health.DEGRADED:
                dev.health[c] = Health.DEGRADED if (dev.throttled[c] or link_bad) else (
                    Health.HEALTHY)

            # executions
            dev.exec_status[c, EXEC_COMPLETED] += formulas.counter_step(
                float(jobs.exec_rate[j]), 1.0 if working else 0.0, dt)
            dev.latency_p50_s[c] = float(jobs.latency[j]) if working else 0.0

            # links: a downed port's bytes move to the chip's other ports of its kind
            kinds = [int(k) for k in topo.port_kind[c]]
            ups = [int(s) != LinkState.DOWN for s in dev.link_state[c]]
            for p in range(dev.link_tx_bytes.shape[1]):
                pk = int(topo.port_kind[c, p])
                rate = 0.0
                if pk == PortKind.INTRA_NODE:
                    rate = float(jobs.intra_rate[j])
                elif pk == PortKind.ULTRASERVER:
                    rate = float(jobs.ring_rate[j])
                if int(dev.link_state[c, p]) == LinkState.DOWN or not working:
                    rate = 0.0
                same = [q for q in range(len(kinds)) if kinds[q] == pk]
                n_up = sum(1 for q in same if ups[q])
                if rate and n_up:
                    rate *= len(same) / n_up
                dev.link_tx_bytes[c, p] += formulas.counter_step(rate, 1.0, dt)

        for n in range(topo.n_nodes):
            itype = INSTANCE_TYPES[int(topo.node_type[n])]
            nj = int(inp.node_job[n])
            has = nj >= 0
            slot = nj if has else jobs.idle_slot
            up = bool(dev.node_up[n])
            efa = float(jobs.efa_rate[slot]) * dt if up else 0.0
            # EFA devices: the up ones share the node's traffic evenly; with every device
            # down the node sends nothing (a node without EFA devices keeps its traffic).
            n_efa = int(topo.node_efa_devices[n])
            efa_up = [e for e in range(n_efa) if int(dev.efa_state[n, e]) != LinkState.DOWN]
            if n_efa and not efa_up:
                efa = 0.0
            dev.efa_tx_bytes[n] += efa
            dev.efa_rx_bytes[n] += efa
            share = 1.0 / len(efa_up) if efa_up else 0.0
            for e in efa_up:
                dev.efa_dev_tx_bytes[n, e] += efa * share
                dev.efa_dev_rx_bytes[n, e] += efa * share
            training = int(jobs.kind[slot]) in (JobKind.PRETRAIN, JobKind.FINETUNE)
            share = ((rules.RUNTIME_VCPU_TRAINING if training else rules.RUNTIME_VCPU_SERVING)
                     * float(jobs.busy[slot]) if has else 0.0)
            dev.runtime_vcpu_user[n] = formulas.runtime_vcpu_user(share) if up else 0.0
            dev.runtime_vcpu_system[n] = formulas.runtime_vcpu_system(share) if up else 0.0
            dev.host_vcpu_user[n] = formulas.host_vcpu_user(share) if up else 0.0
            dev.host_vcpu_system[n] = formulas.host_vcpu_system(share) if up else 0.0
            job_mem = ((rules.HOST_MEM_TRAINING if training else rules.HOST_MEM_SERVING)
                       * itype.host_memory_bytes if has else 0.0)
            dev.host_mem_used[n] = formulas.host_mem_used(job_mem) if up else 0.0


def reference_jobs_advance(jobs: JobTable, dt: float, load: float,
                           jitter: npt.NDArray[np.float64]) -> None:
    """`JobTable.advance`, one job slot at a time: state timers, the training step or the
    serving roofline, progress, per-chip rates and checkpoints."""
    for i in range(jobs.capacity + 1):
        _job_slot(jobs, i, dt, load, float(jitter[i]))


def _job_slot(jb: JobTable, i: int, dt: float, load: float, jitter: float) -> None:
    state = JobState(int(jb.state[i]))
    live = state != JobState.FREE and i != jb.idle_slot
    # LOADING and CHECKPOINTING count down to RUNNING; STALLED counts up (the watchdog).
    if state in (JobState.LOADING, JobState.CHECKPOINTING):
        jb.timer[i] -= dt
        if jb.timer[i] <= 0:
            state = JobState.RUNNING
            jb.state[i] = state
    elif state == JobState.STALLED:
        jb.timer[i] += dt
    kind = int(jb.kind[i])
    training = kind in (JobKind.PRETRAIN, JobKind.FINETUNE)
    clock, link = float(jb.clock[i]), float(jb.link_factor[i])
    bubble = float(jb.bubble[i])

    # Training: compute at the slowest chip's clock plus communication at the worst link.
    step = formulas.training_step(float(jb.compute_s[i]), float(jb.comm_s[i]), clock, link,
                                  bubble, jitter)
    comp_frac = float(jb.compute_s[i]) / clock / step if step > 0 else 0.0
    t_busy = float(formulas.training_busy(comp_frac, bubble))

    # Serving: Little's law under the HBM roofline (formulas.decode_step).
    rps = float(jb.sv_peak_rps[i]) * (load if kind == JobKind.INFERENCE else 1.0)
    kv, out = float(jb.sv_kv[i]), float(jb.sv_out[i])
    conc, t_step, s_busy, served = (float(x) for x in formulas.decode_step(
        rps, float(jb.sv_w[i]), kv, float(jb.sv_cap[i]), float(jb.sv_bw[i]) * clock, out,
        float(jb.sv_prefill[i]), float(jb.sv_flops_tok_chip[i]),
        float(jb.peak_flops[i]) * clock))
    t_step = formulas.serving_link_step(t_step, jitter, link)

    is_train, is_serve = training and live, (not training) and live
    step_s = step if is_train else (t_step if is_serve else 0.0)
    jb.step_s[i] = step_s
    inv = 1.0 / step_s if step_s > 0 else 0.0
    busy = t_busy if is_train else s_busy
    if is_serve:
        busy = max(busy, rules.SERVE_MIN_BUSY)
    tokens = float(jb.tokens_per_step[i]) * inv if is_train else served * out
    flops = float(jb.flops_per_step[i]) * inv if is_train else tokens * float(jb.sv_flops_tok[i])
    loading, ckpt = state == JobState.LOADING, state == JobState.CHECKPOINTING
    running = state == JobState.RUNNING
    if not live:
        jb.busy[i] = 0.0
    elif running:
        jb.busy[i] = busy
    else:
        jb.busy[i] = rules.PHASE_BUSY if (loading or ckpt) else 0.0
    prog = running and live
    jb.progressing[i] = prog
    jb.tokens_per_s[i] = tokens if prog else 0.0
    jb.flops[i] = flops / max(float(jb.chips[i]), 1.0) if prog else 0.0
    peak = float(jb.peak_flops[i])
    jb.mfu[i] = float(jb.flops[i]) / peak if peak > 0 else 0.0
    jb.tokens_total[i] += float(jb.tokens_per_s[i]) * dt
    if prog:
        jb.hbm_bw[i] = (float(jb.hbm_bw_train[i]) if is_train else
                        formulas.serving_hbm_bw(s_busy, clock))
    else:
        jb.hbm_bw[i] = rules.LOADING_HBM_BW if loading else 0.0
    if ckpt and live:
        jb.hbm_bw[i] = rules.CHECKPOINT_HBM_BW
    jb.kv_bytes[i] = conc * kv if is_serve else 0.0
    per_step = float(jb.exec_per_step[i])
    if prog:
        jb.exec_rate[i] = per_step * inv if is_train else (inv if conc > 0 else 0.0)
        jb.latency[i] = step_s / max(per_step, 1.0) if is_train else step_s
    else:
        jb.exec_rate[i] = jb.latency[i] = 0.0
    pt = prog and is_train
    pl = prog and (is_train or conc > 0)
    jb.intra_rate[i] = float(jb.intra_per_step[i]) * inv if pl else 0.0
    jb.ring_rate[i] = float(jb.ring_per_step[i]) * inv if pl else 0.0
    if pt:
        jb.efa_rate[i] = float(jb.efa_per_step[i]) * inv
    else:
        jb.efa_rate[i] = served * rules.EFA_BYTES_PER_REQUEST if prog else 0.0
    # Progress and checkpoints (training); elapsed time for everyone that runs.
    if pt:
        jb.steps[i] += dt * inv
        jb.since_checkpoint[i] += dt
    if prog:
        jb.elapsed[i] += dt
    if pt and jb.since_checkpoint[i] >= jb.checkpoint_every[i]:
        jb.checkpoint_step[i] = jb.steps[i]
        jb.since_checkpoint[i] = 0.0
        jb.state[i] = JobState.CHECKPOINTING
        jb.timer[i] = jb.checkpoint_s[i]


def reference_engine(config: FleetConfig, *, jobs: bool = True,
                     topology: Topology | None = None) -> Engine:
    """An engine for `config` whose device tick (and, with `jobs`, job tick) is the
    reference. The per-core weights are drawn by the engine at start, so a first engine
    from the same seed provides them; the two build identically."""
    probe = Engine(config, topology=topology)
    model = ReferenceModel(probe.topo, probe.kernel.core_weight.tolist())
    return Engine(config, topology=probe.topo, advance=model.advance,
                  jobs_advance=reference_jobs_advance if jobs else None)
