"""The hardware catalog: Neuron chips and the EC2 instance types that carry them.

Every figure cites `shared/reference/trainium2-and-neuron-tools.md` (§ numbers below)
or `emulation-model.md`. Figures AWS has not published are marked ``placeholder``
and chosen to be plausible; they live here so that changing them is one edit.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GIB = 1 << 30
TB = 10**12
GB = 10**9


class Frozen(BaseModel):
    """Base of the catalog's immutable records."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ChipKind(IntEnum):
    """Chip kinds as small ints, so per-chip arrays can hold them (int8)."""

    TRAINIUM2 = 0
    TRAINIUM1 = 1
    INFERENTIA2 = 2


class EngineSpec(Frozen):
    """One NeuronCore engine; `peak_tflops` is its own dense peak."""

    name: Literal["tensor", "vector", "scalar", "gpsimd"]
    clock_ghz: float
    peak_tflops: float


class ChipSpec(Frozen):
    """One Neuron chip kind's hardware facts (cores, HBM, power, thermal, links)."""

    kind: ChipKind
    name: str
    neuron_device_type: str  # neuron-monitor `neuron_hardware_info.neuron_device_type`
    neuron_device_version: str
    core_version: str  # physical core label: "v3" (Trn2) or "v2"
    physical_cores: int
    supports_lnc: bool
    engines: tuple[EngineSpec, ...]
    bf16_tflops: float
    fp8_tflops: float
    fp32_tflops: float
    hbm_bytes: int
    hbm_stacks: int
    hbm_bandwidth: float  # bytes/s
    neuronlink_version: str
    neuronlink_bandwidth: float  # bytes/s per chip, all links
    sbuf_bytes_per_core: int
    idle_watts: float
    max_watts: float
    throttle_celsius: float
    critical_celsius: float
    thermal_resistance_c_per_w: float  # steady-state rise per watt over ambient
    thermal_time_constant_s: float

    @property
    def hbm_stack_bytes(self) -> int:
        return self.hbm_bytes // self.hbm_stacks

    @property
    def core_bf16_flops(self) -> float:
        return self.bf16_tflops * 1e12 / self.physical_cores


TRN2_BF16_TFLOPS = 667.0  # trainium2.rst; trn2-arch.rst 10.7 PF per 16 chips

TRAINIUM2 = ChipSpec(
    kind=ChipKind.TRAINIUM2,
    name="Trainium2",
    neuron_device_type="trainium2",
    neuron_device_version="v4",  # §4.2 neuron_hardware_info
    core_version="v3",
    physical_cores=8,  # §2.1
    supports_lnc=True,  # §3
    engines=(  # §2.1 per-core figures and clocks
        # neuron-core-v3.rst says 79 BF16 TFLOPS per Tensor Engine (x 8 = 632), the chip
        # page 667 (trainium2.rst) and the instance page 10.7 PF = 16 x 667 (trn2-arch.rst).
        # Two sources agree on 667, so the engine carries 667 / 8 = 83.375.
        EngineSpec(name="tensor", clock_ghz=2.4, peak_tflops=TRN2_BF16_TFLOPS / 8),
        EngineSpec(name="vector", clock_ghz=0.96, peak_tflops=1.0),
        EngineSpec(name="scalar", clock_ghz=1.2, peak_tflops=1.2),
        EngineSpec(name="gpsimd", clock_ghz=1.2, peak_tflops=0.5),  # placeholder
    ),
    bf16_tflops=TRN2_BF16_TFLOPS,  # §2.1
    fp8_tflops=1299.0,  # §2.1
    fp32_tflops=181.0,  # §2.1
    hbm_bytes=96 * GIB,  # §2.1, §4.2 (103079215104)
    hbm_stacks=4,  # §2.1, §3 (four 24 GiB banks)
    hbm_bandwidth=2.9 * TB,  # §2.1
    neuronlink_version="v3",
    neuronlink_bandwidth=1.28 * TB,  # §2.1 (1,024 GB/s intra + 256 GB/s inter)
    sbuf_bytes_per_core=28 * (1 << 20),  # §2.1
    idle_watts=90.0,  # placeholder: AWS publishes no idle figure
    max_watts=500.0,  # §2.1 (~500 W, unofficial)
    throttle_celsius=90.0,  # placeholder: no temperature is published (§9)
    critical_celsius=105.0,  # placeholder
    thermal_resistance_c_per_w=0.085,  # placeholder: 500 W -> +42.5 C over ambient
    thermal_time_constant_s=60.0,  # placeholder
)

_NC_V2_ENGINES = (
    # 190/2 per core (§2.4); neuron-core-v2.rst: "over 90 TFLOPS" per Tensor Engine.
    EngineSpec(name="tensor", clock_ghz=2.8, peak_tflops=95.0),
    # neuron-core-v2.rst: Vector Engine 2.3 and Scalar Engine 2.9 FP32 TFLOPS (published).
    EngineSpec(name="vector", clock_ghz=1.4, peak_tflops=2.3),  # clock: placeholder
    EngineSpec(name="scalar", clock_ghz=1.4, peak_tflops=2.9),  # clock: placeholder
    EngineSpec(name="gpsimd", clock_ghz=1.4, peak_tflops=0.5),  # placeholder
)

TRAINIUM1 = ChipSpec(
    kind=ChipKind.TRAINIUM1,
    name="Trainium",
    neuron_device_type="trainium",
    neuron_device_version="v2",
    core_version="v2",  # §2.4 tool core label
    physical_cores=2,  # §2.4
    supports_lnc=False,  # §2.4
    engines=_NC_V2_ENGINES,
    bf16_tflops=190.0,  # §2.4
    fp8_tflops=190.0,  # §2.4 (cFP8)
    fp32_tflops=47.5,  # §2.4
    hbm_bytes=32 * GIB,  # §2.4
    hbm_stacks=2,  # trainium.rst chip diagram: two HBM stacks
    hbm_bandwidth=820 * GIB,  # §2.4 (820 GiB/s)
    neuronlink_version="v2",
    # trn1-arch.rst instance table: NeuronLink-v2 384 GiB/s per chip on trn1.32xlarge
    # (768 on trn1n.32xlarge; the column's header is missing at 81ce03ae, the units match
    # inf2-arch.rst's "NeuronLink-v2 chip-to-chip (GiB/sec/chip)").
    neuronlink_bandwidth=384 * GIB,
    sbuf_bytes_per_core=24 * (1 << 20),  # placeholder
    idle_watts=60.0,  # placeholder
    max_watts=210.0,  # placeholder
    throttle_celsius=90.0,
    critical_celsius=105.0,
    thermal_resistance_c_per_w=0.17,
    thermal_time_constant_s=50.0,
)

INFERENTIA2 = ChipSpec(
    kind=ChipKind.INFERENTIA2,
    name="Inferentia2",
    neuron_device_type="inferentia2",
    neuron_device_version="v3",
    core_version="v2",  # §2.4
    physical_cores=2,  # §2.4
    supports_lnc=False,
    engines=_NC_V2_ENGINES,
    bf16_tflops=190.0,  # §2.4
    fp8_tflops=190.0,
    fp32_tflops=47.5,  # §2.4
    hbm_bytes=32 * GIB,  # §2.4
    hbm_stacks=2,  # inferentia2.rst chip diagram: two HBM stacks
    hbm_bandwidth=820 * GIB,  # §2.4
    neuronlink_version="v2",
    neuronlink_bandwidth=192 * GIB,  # inf2-arch.rst: NeuronLink-v2 192 GiB/s per chip
    sbuf_bytes_per_core=24 * (1 << 20),  # placeholder
    idle_watts=40.0,  # placeholder
    max_watts=130.0,  # placeholder
    throttle_celsius=90.0,
    critical_celsius=105.0,
    thermal_resistance_c_per_w=0.25,
    thermal_time_constant_s=40.0,
)

CHIPS: dict[ChipKind, ChipSpec] = {c.kind: c for c in (TRAINIUM2, TRAINIUM1, INFERENTIA2)}
MAX_PHYSICAL_CORES = max(c.physical_cores for c in CHIPS.values())
ENGINES: tuple[str, ...] = ("tensor", "vector", "scalar", "gpsimd")


class LinkTopology(IntEnum):
    """How a node's chips are wired by NeuronLink."""

    TORUS_4X4 = 0  # trn2 and trn1: 4x4 2D torus with wrap-around (§2.2)
    RING = 1  # inf2: one ring over the node's chips


class InstanceType(Frozen):
    """One EC2 instance type: its chips, vCPUs, host memory and EFA ports."""

    name: str
    chip: ChipKind
    chips: int
    vcpus: int
    host_memory_bytes: int
    efa_ports: int
    efa_bandwidth: float  # bytes/s, whole instance
    link_topology: LinkTopology
    ultraserver_member: bool = False
    # NUMA layout from neuron-ls (§2.2): device -> NUMA node; and NUMA node -> CPU list text.
    numa_of_device: tuple[int, ...] = Field(default=())
    cpu_affinity: tuple[str, ...] = Field(default=())

    @property
    def chip_spec(self) -> ChipSpec:
        return CHIPS[self.chip]


# §2.2: devices 0-3 and 12-15 on NUMA 1, devices 4-11 on NUMA 0.
_TRN2_NUMA = tuple(0 if 4 <= d <= 11 else 1 for d in range(16))
_TRN2_AFFINITY = ("0-47,96-143", "48-95,144-191")

TRN2 = InstanceType(
    name="trn2.48xlarge",
    chip=ChipKind.TRAINIUM2,
    chips=16,  # §2.2
    vcpus=192,  # §2.2
    host_memory_bytes=2048 * GIB,  # §2.2
    efa_ports=16,  # §2.2: 16 x 200 Gbps, one per chip
    efa_bandwidth=3200e9 / 8,  # §2.2: EFAv3 3,200 Gbps
    link_topology=LinkTopology.TORUS_4X4,
    numa_of_device=_TRN2_NUMA,
    cpu_affinity=_TRN2_AFFINITY,
)
TRN2U = TRN2.model_copy(update={"name": "trn2u.48xlarge", "ultraserver_member": True})
TRN1 = InstanceType(
    name="trn1.32xlarge",
    chip=ChipKind.TRAINIUM1,
    chips=16,  # §2.4
    vcpus=128,  # §2.4
    host_memory_bytes=512 * GIB,  # §2.4
    # placeholder: 8 x 100 Gbps (the 800 Gbps is published, its split over devices is not
    # in the reference; trn1n.32xlarge, not emulated, has 1,600 Gbps, §2.4)
    efa_ports=8,
    efa_bandwidth=800e9 / 8,  # §2.4: 800 Gbps
    link_topology=LinkTopology.TORUS_4X4,  # the 4D hypercube of 16 chips is a 4x4 torus
    numa_of_device=tuple(0 if d < 8 else 1 for d in range(16)),  # placeholder
    cpu_affinity=("0-31,64-95", "32-63,96-127"),  # placeholder
)
INF2 = InstanceType(
    name="inf2.48xlarge",
    chip=ChipKind.INFERENTIA2,
    chips=12,  # §2.4
    vcpus=192,  # inf2-arch.rst instance table
    host_memory_bytes=768 * GIB,  # inf2-arch.rst instance table
    efa_ports=0,  # inf2 has no EFA; its 100 Gbps ENA is not modelled
    efa_bandwidth=0.0,
    link_topology=LinkTopology.RING,
    numa_of_device=tuple(0 if d < 6 else 1 for d in range(12)),  # placeholder
    cpu_affinity=("0-47,96-143", "48-95,144-191"),  # placeholder
)

INSTANCE_TYPES: tuple[InstanceType, ...] = (TRN2, TRN2U, TRN1, INF2)
INSTANCE_TYPE_BY_NAME: dict[str, InstanceType] = {t.name: t for t in INSTANCE_TYPES}

ULTRASERVER_NODES = 4  # §2.2: 4 x trn2u.48xlarge = 64 chips

# EFA devices per node: the widest instance's count (trn2: 16); per-node arrays are this wide.
MAX_EFA_DEVICES = max(t.efa_ports for t in INSTANCE_TYPES)


def efa_device_name(index: int) -> str:
    """The RDMA device name of a node's `index`-th EFA device, as `ibv_devices` and
    `fi_info -p efa` list them (rdmap<PCI bus>s<slot>). Placeholder: the bus numbers of a
    trn2.48xlarge's 16 devices are not published, so they are spread evenly."""
    return f"rdmap{16 + 8 * index}s27"


def efa_device_bandwidth(itype: InstanceType) -> float:
    """Bytes/s of one EFA device (the instance's EFA bandwidth over its devices)."""
    return itype.efa_bandwidth / itype.efa_ports if itype.efa_ports else 0.0
