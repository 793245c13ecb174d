"""One definition, three callers: each formula of `trnmon.sim.formulas` gives the same
numbers on numpy arrays (the numpy kernels), on Python floats (the reference model) and
compiled by numba (the fused kernels)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from trnmon.sim import formulas

RNG = np.random.default_rng(12)
N = 64


def _args(f: Callable[..., Any]) -> list[np.ndarray[Any, Any]]:
    """Positive float64 inputs in ranges the model uses (busy/clock shares near 1, times
    and sizes spread over decades); booleans for the throttling state."""
    n_args = f.__code__.co_argcount
    out = [RNG.uniform(0.05, 1.5, N) * 10.0 ** RNG.integers(-2, 3, N) for _ in range(n_args)]
    if f is formulas.throttling:
        out[1] = RNG.random(N) < 0.5
        out[0] = RNG.uniform(60.0, 110.0, N)
        out[2] = np.full(N, 95.0)
    return out


ALL = sorted({*formulas.CHIP_FORMULAS, *formulas.JOB_FORMULAS, formulas.power,
              formulas.thermal_alpha, formulas.runtime_vcpu_user, formulas.runtime_vcpu_system,
              formulas.host_vcpu_user, formulas.host_vcpu_system, formulas.host_mem_used},
             key=lambda f: f.__name__)


# exp and pow come from different libms (numpy's SIMD loops, the C library, LLVM's): they
# agree to a few ulp, not to the bit. Each path stays bit-identical to itself (the golden
# digests); across paths the reference tests compare with a tolerance.
LIBM = {formulas.thermal_alpha, formulas.serving_link_step, formulas.decode_step,
        formulas.training_busy}


def _rows(result: Any) -> np.ndarray[Any, Any]:
    return np.asarray(result if isinstance(result, tuple) else (result,), dtype=np.float64)


def _same(f: Callable[..., Any], a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    if f in LIBM:
        return bool(np.all(np.abs(a - b) <= 4 * np.spacing(np.abs(b))))
    return bool(np.array_equal(a, b))


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.__name__)
def test_arrays_and_python_floats_agree(f: Callable[..., Any]) -> None:
    args = _args(f)
    on_arrays = _rows(f(*args))
    for i in range(N):
        scalar_args = [bool(a[i]) if a.dtype == np.bool_ else float(a[i]) for a in args]
        assert _same(f, _rows(f(*scalar_args)), on_arrays[:, i]), (f.__name__, i)


def test_decode_step_guards_an_idle_server_without_a_branch() -> None:
    conc, t_step, busy, served = formulas.decode_step(0.0, 1e9, 1e6, 1e4, 1e12, 100.0, 0.0,
                                                      0.0, 1e15)
    assert (float(conc), float(busy), float(served)) == (0.0, 0.0, 0.0)
    assert float(t_step) > 0.0


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.__name__)
def test_numba_compiles_the_same_function(f: Callable[..., Any]) -> None:
    numba = pytest.importorskip("numba")
    jitted = numba.njit(error_model="numpy")(f)
    args = _args(f)
    for i in range(0, N, 7):
        scalar_args = [bool(a[i]) if a.dtype == np.bool_ else float(a[i]) for a in args]
        assert _same(f, _rows(jitted(*scalar_args)), _rows(f(*scalar_args))), (
            f.__name__, i)
