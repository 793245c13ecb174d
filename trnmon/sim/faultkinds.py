"""What a fault is: its kinds, how taxonomy causes show up as them, the active-fault
record, and which faults replace their node (the fault engine is trnmon/sim/faults.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from trnmon.sim import taxonomy


class FaultKind(StrEnum):
    """Every fault the emulator raises or injects, by its API name."""

    HBM_ECC_CORRECTED = "hbm_ecc_corrected"
    HBM_ECC_UNCORRECTED = "hbm_ecc_uncorrected"
    SRAM_ECC_CORRECTED = "sram_ecc_corrected"
    SRAM_ECC_UNCORRECTED = "sram_ecc_uncorrected"
    LINK_DEGRADED = "link_degraded"
    LINK_DOWN = "link_down"
    THERMAL_THROTTLE = "thermal_throttle"
    CHIP_HANG = "chip_hang"
    NODE_LOSS = "node_loss"
    CHIP_FAILURE = "chip_failure"  # a faulty chip (Llama 3: "faulty GPU"): out until replaced
    SILENT_DATA_CORRUPTION = "silent_data_corruption"  # detected SDC: the job restarts
    SOFTWARE_CRASH = "software_crash"  # a software bug kills the job; hardware is fine
    COLLECTIVE_TIMEOUT = "collective_timeout"  # the job hangs until the watchdog fires
    EFA_DOWN = "efa_down"  # a scale-out port (NIC, cable or switch) fails
    THERMAL_SHUTDOWN = "thermal_shutdown"  # above critical_celsius (or a failed interface)


# How each taxonomy cause shows up (trnmon/sim/taxonomy.py has the rates and levels).
CAUSE_KIND: dict[str, FaultKind] = {
    "faulty_chip": FaultKind.CHIP_FAILURE,
    "hbm": FaultKind.HBM_ECC_UNCORRECTED,
    "software": FaultKind.SOFTWARE_CRASH,
    "network": FaultKind.EFA_DOWN,
    "host": FaultKind.NODE_LOSS,
    "sram": FaultKind.SRAM_ECC_UNCORRECTED,
    "system_processor": FaultKind.CHIP_HANG,
    "nic": FaultKind.EFA_DOWN,
    "collective_timeout": FaultKind.COLLECTIVE_TIMEOUT,
    "sdc": FaultKind.SILENT_DATA_CORRUPTION,
    "thermal": FaultKind.THERMAL_SHUTDOWN,
    "other": FaultKind.NODE_LOSS,
}
# The cause a job interruption is counted under when its fault carries none (an injected
# fault): the first taxonomy cause that shows up as that kind, else the kind's own name.
KIND_CAUSE: dict[FaultKind, str] = {}
for _cause, _kind in CAUSE_KIND.items():
    KIND_CAUSE.setdefault(_kind, _cause)
# Faults that take a chip out until its node is replaced (drained, not healed in place).
HARD_CHIP_FAULTS = (FaultKind.HBM_ECC_UNCORRECTED, FaultKind.SRAM_ECC_UNCORRECTED,
                    FaultKind.CHIP_FAILURE, FaultKind.SILENT_DATA_CORRUPTION,
                    FaultKind.THERMAL_SHUTDOWN)
# Taxonomy effects whose repair is a new instance.
REPLACED_EFFECTS = (taxonomy.Effect.CHIP_REPLACED, taxonomy.Effect.NODE_REPLACED)


@dataclass(eq=False)
class Fault:
    """One active fault: where it is, when it started and when (if ever) it clears."""

    fault_id: int
    kind: FaultKind
    chip: int  # -1 for node faults
    node: int
    port: int  # -1 unless a link fault
    started_at: float
    clears_at: float | None  # None: stays until cleared
    injected: bool
    cause: str = ""  # taxonomy cause of a random fault ("" when injected)


def replaces_node(f: Fault) -> bool:
    """Whether clearing `f` replaces its node (a new instance) rather than healing it."""
    if f.kind in HARD_CHIP_FAULTS:
        return True
    cause = taxonomy.CAUSE_BY_NAME.get(f.cause)
    return cause is not None and cause.effect in REPLACED_EFFECTS


@dataclass(frozen=True, slots=True)
class Replacement:
    """A node drained and replaced: its slot, the generation it left, what caused it."""

    node: int
    old_generation: int
    cause: str
    drained_at: float
