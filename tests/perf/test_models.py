"""The model catalog: contract names, sources, parameter counts from the architecture."""

from __future__ import annotations

import pytest

from trnmon.hw.models import MODEL_ARCH_BY_NAME, MODEL_ARCHS, model_arch

CONTRACT = ("llama2-7b", "llama2-13b", "llama2-70b", "llama3-8b", "llama3-70b", "llama3.1-8b",
            "llama3.1-70b", "llama3.1-405b", "llama3.3-70b", "mixtral-8x7b",
            "mixtral-8x22b", "gpt3-175b")
KIB = 1024


def test_contract_names_each_with_a_source() -> None:
    for name in CONTRACT:
        arch = MODEL_ARCH_BY_NAME[name]
        assert arch.source and ("config.json" in arch.source or "arXiv" in arch.source)
    assert len({m.name for m in MODEL_ARCHS}) == len(MODEL_ARCHS)


@pytest.mark.parametrize(("name", "total", "active"), [
    # Published totals: the model cards / papers (billions).
    ("llama2-7b", 6.74, 6.74), ("llama2-13b", 13.0, 13.0), ("llama2-70b", 69.0, 69.0),
    ("llama3-8b", 8.03, 8.03), ("llama3-70b", 70.6, 70.6), ("llama3.1-405b", 405.9, 405.9),
    ("mixtral-8x7b", 46.7, 12.9), ("mixtral-8x22b", 141.0, 39.0), ("gpt3-175b", 175.0, 175.0),
])
def test_parameter_counts_follow_from_the_architecture(name: str, total: float,
                                                       active: float) -> None:
    arch = model_arch(name)
    assert arch.params / 1e9 == pytest.approx(total, rel=0.01)
    assert arch.active_params / 1e9 == pytest.approx(active, rel=0.01)


def test_kv_cache_per_token_matches_the_reference_table() -> None:
    # emulation-model.md §2: GQA-8 in bf16.
    assert model_arch("llama3-8b").kv_bytes_per_token() == 128 * KIB
    assert model_arch("llama3-70b").kv_bytes_per_token() == 320 * KIB
    assert model_arch("llama3.1-405b").kv_bytes_per_token() == 504 * KIB


def test_moe_flops_count_active_parameters() -> None:
    m = model_arch("mixtral-8x22b")
    dense_equivalent = 6.0 * m.params
    assert m.train_flops_per_token(2048) < 0.35 * dense_equivalent  # ~39 B of 141 B


def test_alias_of_the_old_job_name() -> None:
    assert model_arch("llama3-405b") is model_arch("llama3.1-405b")
    with pytest.raises(KeyError):
        model_arch("llama9")
