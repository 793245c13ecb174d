"""Logical NeuronCore numbering, the way AWS tools report it (reference §3, §4.3, §7).

On Trn2 with LNC=2 two physical cores form one logical `v3d` core: 4 per chip, 64 per
trn2.48xlarge, logical core ``i`` of a chip made of physical ``nc_v3.(2i)`` and
``nc_v3.(2i+1)``. LNC=1 exposes the 8 physical `v3` cores. Trn1 and Inf2 have no LNC:
2 `v2` cores per chip.
"""

from __future__ import annotations

from dataclasses import dataclass

from trnmon.hw.catalog import ChipSpec


@dataclass(frozen=True, slots=True)
class CoreNumbering:
    """How a device's logical NeuronCores are numbered under an LNC setting."""

    lnc: int  # physical cores per logical core (1 where LNC does not apply)
    logical_per_chip: int
    version_label: str  # "v3d", "v3" or "v2": neuron-top's grid title and neuroncore_version

    def logical_ids(self, device_index: int) -> range:
        """Node-wide logical core ids of one device (neuron-ls NEURON CORE IDS)."""
        start = device_index * self.logical_per_chip
        return range(start, start + self.logical_per_chip)

    def physical_of(self, logical_in_chip: int) -> range:
        """Physical core indices inside the chip that make up one logical core."""
        return range(logical_in_chip * self.lnc, (logical_in_chip + 1) * self.lnc)


def core_numbering(chip: ChipSpec, lnc: int) -> CoreNumbering:
    if lnc not in (1, 2):
        raise ValueError(f"LNC must be 1 or 2, got {lnc}")
    if not chip.supports_lnc:
        return CoreNumbering(lnc=1, logical_per_chip=chip.physical_cores, version_label="v2")
    return CoreNumbering(
        lnc=lnc,
        logical_per_chip=chip.physical_cores // lnc,
        version_label="v3d" if lnc == 2 else "v3",
    )
