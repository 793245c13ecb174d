from __future__ import annotations

import pytest
from pydantic import ValidationError

from trnmon.hw import (
    CHIPS,
    INSTANCE_TYPE_BY_NAME,
    ChipKind,
    core_numbering,
)

GIB = 1 << 30


def test_trainium2_figures_match_the_reference() -> None:
    t2 = CHIPS[ChipKind.TRAINIUM2]
    assert t2.physical_cores == 8
    assert [e.name for e in t2.engines] == ["tensor", "vector", "scalar", "gpsimd"]
    assert t2.hbm_bytes == 103079215104 == 96 * GIB
    assert t2.hbm_stacks == 4 and t2.hbm_stack_bytes == 24 * GIB
    assert t2.hbm_bandwidth == pytest.approx(2.9e12)
    assert (t2.bf16_tflops, t2.fp8_tflops, t2.fp32_tflops) == (667, 1299, 181)
    assert t2.neuronlink_bandwidth == pytest.approx(1.28e12)


def test_nc_v2_parts() -> None:
    for kind in (ChipKind.TRAINIUM1, ChipKind.INFERENTIA2):
        chip = CHIPS[kind]
        assert chip.physical_cores == 2 and chip.core_version == "v2"
        assert chip.hbm_bytes == 32 * GIB and chip.bf16_tflops == 190
        assert not chip.supports_lnc


def test_instance_types() -> None:
    trn2 = INSTANCE_TYPE_BY_NAME["trn2.48xlarge"]
    trn2u = INSTANCE_TYPE_BY_NAME["trn2u.48xlarge"]
    assert trn2.chips == trn2u.chips == 16 and trn2.vcpus == 192
    assert trn2.host_memory_bytes == 2048 * GIB
    assert trn2.efa_bandwidth * 8 == pytest.approx(3.2e12)
    assert trn2u.ultraserver_member and not trn2.ultraserver_member
    assert INSTANCE_TYPE_BY_NAME["trn1.32xlarge"].chips == 16
    assert INSTANCE_TYPE_BY_NAME["inf2.48xlarge"].chips == 12
    # neuron-ls: devices 0-3 and 12-15 on NUMA 1, 4-11 on NUMA 0.
    assert trn2.numa_of_device[0] == 1 and trn2.numa_of_device[4] == 0
    assert trn2.numa_of_device[12] == 1


def test_catalog_is_frozen() -> None:
    with pytest.raises(ValidationError):
        CHIPS[ChipKind.TRAINIUM2].max_watts = 1.0  # type: ignore[misc]


def test_lnc_numbering() -> None:
    t2 = CHIPS[ChipKind.TRAINIUM2]
    lnc2 = core_numbering(t2, 2)
    assert lnc2.logical_per_chip == 4 and lnc2.version_label == "v3d"
    assert list(lnc2.logical_ids(1)) == [4, 5, 6, 7]
    assert list(lnc2.physical_of(1)) == [2, 3]  # logical core 1 = nc_v3.2 + nc_v3.3
    assert list(lnc2.logical_ids(15))[-1] == 63  # 64 logical cores per node
    lnc1 = core_numbering(t2, 1)
    assert lnc1.logical_per_chip == 8 and lnc1.version_label == "v3"
    assert list(lnc1.logical_ids(15))[-1] == 127
    trn1 = core_numbering(CHIPS[ChipKind.TRAINIUM1], 2)  # LNC does not apply to Trn1
    assert trn1.logical_per_chip == 2 and trn1.version_label == "v2" and trn1.lnc == 1
    with pytest.raises(ValueError):
        core_numbering(t2, 3)
