"""The fleet's live state as struct-of-arrays, preallocated once, in topology order.

Shapes: ``C`` chips, ``K`` = MAX_PHYSICAL_CORES core slots per chip (Trn1/Inf2 use 2),
``E`` = 4 engines, ``P`` = MAX_PORTS NeuronLink ports per chip, ``N`` nodes, ``F`` =
MAX_EFA_DEVICES EFA device slots per node (trn1 uses 8 of 16, inf2 none).
Gauges are float32; counters that must not lose increments over months are float64.
Only the engine writes these arrays; consumers read snapshots.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from trnmon.hw.catalog import ENGINES, MAX_EFA_DEVICES, MAX_PHYSICAL_CORES
from trnmon.sim.rules import Health, LinkState
from trnmon.topology import MAX_PORTS, Topology

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]
I32 = npt.NDArray[np.int32]

# AWS's device-memory breakdown (neuron-monitor `neuroncore_memory_usage`, reference §4.3).
HBM_CATEGORIES = ("tensors", "constants", "model_code", "model_shared_scratchpad",
                  "runtime_memory")
ECC_EVENTS = ("mem_ecc_corrected", "mem_ecc_uncorrected", "sram_ecc_corrected",
              "sram_ecc_uncorrected")
EXECUTION_STATUS = ("completed", "completed_with_err", "completed_with_num_err", "timed_out",
                    "incorrect_input", "failed_to_queue")
EXECUTION_ERRORS = ("generic", "numerical", "transient", "model", "runtime", "hardware")
EXEC_COMPLETED = EXECUTION_STATUS.index("completed")  # the column a finished execution counts in
LATENCY_PERCENTILES = ("p0", "p1", "p25", "p50", "p75", "p99", "p100")
# Shape of a step-latency distribution relative to its median: a tight body, a long tail.
LATENCY_SHAPE = np.array([0.82, 0.88, 0.96, 1.0, 1.05, 1.3, 1.9], dtype=np.float32)

__all__ = [
    "ECC_EVENTS",
    "EXECUTION_ERRORS",
    "EXECUTION_STATUS",
    "EXEC_COMPLETED",
    "HBM_CATEGORIES",
    "LATENCY_PERCENTILES",
    "LATENCY_SHAPE",
    "FleetState",
    "Health",
    "LinkState",
]


@dataclass(eq=False)
class FleetState:
    """The devices' live state: every chip, core, NeuronLink port and node array (shapes
    and dtypes in the module docstring). Part of the engine's `SimState`."""

    # per physical core (C, K)
    core_util: F32
    core_engine: F32  # (C, K, E) engine-active ratio: tensor, vector, scalar, gpsimd
    core_flops: F32  # FLOP/s
    # per chip (C,)
    chip_busy: F32  # fraction of the tick the chip's cores were busy
    hbm_used: F32  # (C, 5) bytes by HBM_CATEGORIES
    hbm_bw_util: F32
    power_w: F32
    energy_j: F64  # counter: integral of power_w
    temp_c: F32
    throttled: npt.NDArray[np.bool_]
    clock_scale: F32  # 1.0, or the throttled clock fraction
    health: I8
    ecc: F64  # (C, 4) counters by ECC_EVENTS
    exec_status: F64  # (C, 6) counters by EXECUTION_STATUS
    exec_errors: F64  # (C, 6) counters by EXECUTION_ERRORS
    latency_p50_s: F32  # median execution latency this tick (0 when nothing ran)
    # per NeuronLink port (C, P): bytes sent from the chip over that port
    link_tx_bytes: F64
    link_state: I8
    link_errors: F64
    # per node (N,)
    node_up: npt.NDArray[np.bool_]
    host_vcpu_user: F32  # ratio of all vCPUs
    host_vcpu_system: F32
    runtime_vcpu_user: F32
    runtime_vcpu_system: F32
    host_mem_used: F32  # bytes
    efa_tx_bytes: F64
    efa_rx_bytes: F64
    # Replacements: a drained node comes back as a new instance (trnmon/sim/faults.py);
    # the count names it (`Topology.instance_id(node, generation)`).
    node_generation: I32
    # per EFA device (N, F): LinkState codes, and counters (a device's share of the node's
    # EFA traffic: the up devices carry it evenly)
    efa_state: I8
    efa_dev_tx_bytes: F64
    efa_dev_rx_bytes: F64
    efa_dev_errors: F64

    @classmethod
    def allocate(cls, topo: Topology) -> FleetState:
        c, n, k, e, p = topo.n_chips, topo.n_nodes, MAX_PHYSICAL_CORES, len(ENGINES), MAX_PORTS
        f = MAX_EFA_DEVICES

        def f32(*shape: int) -> F32:
            return np.zeros(shape, dtype=np.float32)

        def f64(*shape: int) -> F64:
            return np.zeros(shape, dtype=np.float64)

        return cls(
            core_util=f32(c, k), core_engine=f32(c, k, e), core_flops=f32(c, k),
            chip_busy=f32(c), hbm_used=f32(c, len(HBM_CATEGORIES)), hbm_bw_util=f32(c),
            power_w=f32(c), energy_j=f64(c), temp_c=f32(c),
            throttled=np.zeros(c, dtype=np.bool_), clock_scale=np.ones(c, dtype=np.float32),
            health=np.zeros(c, dtype=np.int8), ecc=f64(c, len(ECC_EVENTS)),
            exec_status=f64(c, len(EXECUTION_STATUS)), exec_errors=f64(c, len(EXECUTION_ERRORS)),
            latency_p50_s=f32(c),
            link_tx_bytes=f64(c, p), link_state=np.zeros((c, p), dtype=np.int8),
            link_errors=f64(c, p),
            node_up=np.ones(n, dtype=np.bool_), host_vcpu_user=f32(n), host_vcpu_system=f32(n),
            runtime_vcpu_user=f32(n), runtime_vcpu_system=f32(n), host_mem_used=f32(n),
            efa_tx_bytes=f64(n), efa_rx_bytes=f64(n),
            node_generation=np.zeros(n, dtype=np.int32),
            efa_state=np.zeros((n, f), dtype=np.int8), efa_dev_tx_bytes=f64(n, f),
            efa_dev_rx_bytes=f64(n, f), efa_dev_errors=f64(n, f),
        )

    def read_only_copy(self) -> FleetState:
        """A copy whose arrays cannot be written: what a snapshot holds."""
        out = copy.copy(self)
        for f in fields(self):
            a = getattr(self, f.name).copy()
            a.setflags(write=False)
            setattr(out, f.name, a)
        return out

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays().values())
