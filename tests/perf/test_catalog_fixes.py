"""Catalog figures the Neuron docs publish (issue 14, item 9)."""

from __future__ import annotations

import pytest

from trnmon.hw import CHIPS, ChipKind

GIB = 1 << 30


def test_nc_v2_engines_and_neuronlink_are_published_figures() -> None:
    trn1, inf2 = CHIPS[ChipKind.TRAINIUM1], CHIPS[ChipKind.INFERENTIA2]
    for chip in (trn1, inf2):
        engines = {e.name: e.peak_tflops for e in chip.engines}
        assert engines["vector"] == 2.3 and engines["scalar"] == 2.9  # neuron-core-v2.rst
        assert chip.hbm_stacks == 2
    assert trn1.neuronlink_bandwidth == 384 * GIB  # trn1-arch.rst
    assert inf2.neuronlink_bandwidth == 192 * GIB  # inf2-arch.rst


def test_tensor_engines_add_up_to_the_chip_peak() -> None:
    for chip in CHIPS.values():
        tensor = next(e for e in chip.engines if e.name == "tensor")
        assert tensor.peak_tflops * chip.physical_cores == pytest.approx(chip.bf16_tflops)
