"""Damaged-but-readable checkpoints: the daemon's startup path (`restore_or_build`, with the
real file loader) moves every one aside with one log line and starts a fresh fleet; a good
one restores exactly. Hypothesis mutates a real checkpoint's metadata and arrays."""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import preset_config
from trnmon.config.model import FleetConfig
from trnmon.daemon import persistence
from trnmon.daemon.service import restore_or_build
from trnmon.daemon.settings import resolve
from trnmon.sim import Engine
from trnmon.sim import checkpoint as ck
from trnmon.sim.faultkinds import FaultKind


def _config() -> FleetConfig:
    return preset_config("tiny", seed=5, faults={"rate_multiplier": 300.0})


@pytest.fixture(scope="module")
def good() -> ck.Checkpoint:
    eng = Engine(_config())
    for _ in range(120):
        eng.step()
    eng.inject(FaultKind.LINK_DOWN, chip=5)
    eng.inject(FaultKind.THERMAL_THROTTLE, chip=7)
    c = ck.capture(eng)
    assert c.meta["jobs"] and c.meta["faults"]["active"]
    return c


def start(tmp: Path, c: ck.Checkpoint | bytes) -> tuple[Engine, list[Path]]:
    """What the daemon does at startup with `c` as its checkpoint file."""
    state = tmp / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    for old in state.iterdir():
        old.unlink()
    path = state / "fleet.ckpt"
    path.write_bytes(c if isinstance(c, bytes) else ck.dumps(c))
    engine, _ = restore_or_build(_config(), resolve(_config(), state_dir=str(state)))
    return engine, sorted(state.glob("fleet.ckpt.bad-*"))


def mutated(c: ck.Checkpoint, path: tuple[Any, ...], value: Any) -> ck.Checkpoint:
    """`c` with the metadata at `path` set to `value` (unchanged if an earlier mutation
    removed that path)."""
    meta = copy.deepcopy(c.meta)
    node = meta
    try:
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        return c
    return ck.Checkpoint(meta=meta, arrays=dict(c.arrays), extra=dict(c.extra))


BAD = {
    "fleet is a string": (("fleet",), "tiny"),
    "shard of strings": (("shard",), ["a", "b"]),
    "shard of one number": (("shard",), [1]),
    "shard 3 of 2": (("shard",), [3, 2]),
    "fault on a chip out of range": (("faults", "active", 0, "chip"), 10**6),
    "fault on a node out of range": (("faults", "active", 0, "node"), 999),
    "fault on a port out of range": (("faults", "active", 0, "port"), 40),
    "fault of no kind": (("faults", "active", 0, "kind"), "meltdown"),
    "job on a node out of range": (("jobs", 0, "nodes"), [0, 10**9]),
    "job in a slot out of range": (("jobs", 0, "slot"), 10**6),
    "job spec not a spec": (("jobs", 0, "spec"), {"kind": "nope"}),
    "t is NaN": (("engine", "t"), math.nan),
    "t is infinite": (("engine", "t"), math.inf),
    "tick is negative": (("engine", "tick"), -5),
    "tick is a bool": (("engine", "tick"), True),
    "tick is a string": (("engine", "tick"), "5"),
    "rng state garbage": (("engine", "rngs"), [{"bit_generator": "PCG64", "state": 1}]),
    "events garbage": (("engine", "events"), [{"seq": 1}]),
    "queues not lists": (("sched", "queues"), [5]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_malformed_checkpoint_is_moved_aside(
        good: ck.Checkpoint, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        case: str) -> None:
    path, value = BAD[case]
    with caplog.at_level(logging.ERROR, logger="trnmon.daemon"):
        engine, aside = start(tmp_path, mutated(good, path, value))
    assert len(aside) == 1, case
    lines = [r for r in caplog.records if "unusable" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0].getMessage()
    assert engine.tick == 0  # a fresh fleet
    engine.step()


def test_nan_in_an_array_is_moved_aside(good: ck.Checkpoint, tmp_path: Path) -> None:
    arrays = dict(good.arrays)
    temp = arrays["state.temp_c"].copy()
    temp[3] = np.nan
    arrays["state.temp_c"] = temp
    engine, aside = start(tmp_path, ck.Checkpoint(meta=good.meta, arrays=arrays))
    assert len(aside) == 1 and engine.tick == 0


def test_a_good_checkpoint_restores_exactly(good: ck.Checkpoint, tmp_path: Path) -> None:
    engine, aside = start(tmp_path, good)
    assert not aside and engine.tick == good.meta["engine"]["tick"]
    reference = ck.restore(good, _config())
    engine.step()
    reference.step()  # the trial tick left no trace: both continue identically
    assert np.array_equal(engine.state.temp_c, reference.state.temp_c)
    assert engine.state.energy_j.tobytes() == reference.state.energy_j.tobytes()


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**66, 2**66),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8)),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=5)


def _paths(meta: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(meta, dict):
        for k, v in meta.items():
            if k not in ("config",):
                out += _paths(v, (*prefix, k))
    elif isinstance(meta, list):
        for i, v in enumerate(meta[:2]):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_mutated_checkpoint_starts_a_ticking_fleet(
        good: ck.Checkpoint, tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    paths = _paths(good.meta)
    c = good
    for _ in range(data.draw(st.integers(1, 3))):
        c = mutated(c, data.draw(st.sampled_from(paths)), data.draw(json_values))
    if data.draw(st.booleans()):  # and perhaps damage one array's values
        name = data.draw(st.sampled_from(sorted(good.arrays)))
        arr = good.arrays[name].copy()
        if arr.size:
            flat = arr.reshape(-1)
            # Integer damage within the array's dtype (numpy refuses 2**31 - 1 in an int8).
            fits = [v for v in (0, 1, -1, 127, 2**31 - 1) if arr.dtype.kind not in "iu"
                    or np.iinfo(arr.dtype).min <= v <= np.iinfo(arr.dtype).max]
            flat[data.draw(st.integers(0, flat.size - 1))] = data.draw(
                st.sampled_from(fits) if arr.dtype.kind in "iub"
                else st.floats(allow_nan=True, allow_infinity=True, width=32))
            if arr.dtype.kind == "U":
                flat[0] = "x"
        c = ck.Checkpoint(meta=c.meta, arrays={**c.arrays, name: arr}, extra=c.extra)
    engine, aside = start(tmp_path_factory.mktemp("mut"), c)
    assert len(aside) <= 1
    for _ in range(3):
        engine.step()  # whatever was restored (or started fresh) ticks


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(cut=st.integers(0, 10_000), flip=st.integers(0, 255))
def test_damaged_bytes_never_crash_startup(good: ck.Checkpoint,
                                          tmp_path_factory: pytest.TempPathFactory,
                                          cut: int, flip: int) -> None:
    raw = bytearray(ck.dumps(good))
    at = cut * len(raw) // 10_000
    raw[at:at + 1] = bytes([flip])
    engine, aside = start(tmp_path_factory.mktemp("dmg"), bytes(raw))
    assert len(aside) <= 1
    engine.step()


def test_temp_files_of_interrupted_writes_are_swept(tmp_path: Path) -> None:
    ckpt = tmp_path / "fleet.ckpt"
    for pid in (11, 12):
        (tmp_path / f".fleet.ckpt.{pid}.tmp").write_bytes(b"x" * 1000)
    keep = tmp_path / "other.tmp"
    keep.write_bytes(b"y")
    assert persistence.sweep_temp_files(ckpt) == 2000
    assert not persistence.temp_files(ckpt) and keep.exists()
