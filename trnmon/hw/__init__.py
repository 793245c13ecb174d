"""Hardware specification: chips, instance types, logical-core numbering."""

from trnmon.hw.catalog import (
    CHIPS,
    ENGINES,
    INSTANCE_TYPE_BY_NAME,
    INSTANCE_TYPES,
    MAX_PHYSICAL_CORES,
    ULTRASERVER_NODES,
    ChipKind,
    ChipSpec,
    InstanceType,
    LinkTopology,
)
from trnmon.hw.lnc import CoreNumbering, core_numbering

__all__ = [
    "CHIPS",
    "ENGINES",
    "INSTANCE_TYPES",
    "INSTANCE_TYPE_BY_NAME",
    "MAX_PHYSICAL_CORES",
    "ULTRASERVER_NODES",
    "ChipKind",
    "ChipSpec",
    "CoreNumbering",
    "InstanceType",
    "LinkTopology",
    "core_numbering",
]
