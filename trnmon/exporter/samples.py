"""Sample values as the text format should show them: exact, and no longer than needed.

Templates carry one ``%s`` per sample; `sample_values` turns a float buffer into the
objects that fill them: integer-valued samples become Python ints (a byte count of
2206249984 prints as ``2206249984``, not ``2.20624998e+09`` or ``2206249984.0``), other
finite values stay floats, whose ``str`` is the shortest text that parses back to the same
float64, and non-finite ones become the format's ``NaN``, ``+Inf`` and ``-Inf``. A float32
source value prints as the float64 it widens to, so it too reads back exactly.

One numpy pass and an object array: no per-sample Python work on the hot path.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_INT_LIMIT = 2.0**63  # integer-valued floats beyond int64 stay floats (still exact)


def sample_values(values: npt.ArrayLike) -> tuple[object, ...]:
    """The ``%s`` arguments for `values`, in order."""
    buf = np.asarray(values, dtype=np.float64).ravel()
    out = buf.astype(object)
    finite = np.isfinite(buf)
    whole = finite & (buf == np.trunc(buf)) & (np.abs(buf) < _INT_LIMIT)
    if whole.any():
        out[whole] = buf[whole].astype(np.int64).astype(object)
    if not finite.all():
        out[np.isnan(buf)] = "NaN"
        out[buf == np.inf] = "+Inf"
        out[buf == -np.inf] = "-Inf"
    return tuple(out.tolist())


def sample_text(value: float) -> str:
    """One sample's text, by the same rules (for the few values rendered one by one)."""
    return str(sample_values([value])[0])
