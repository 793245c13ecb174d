"""Stable identifiers: derived from the fleet's name and a node's position, never from the
seed or the clock, so the same config names the same instances in every run and shard."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Vectorized splitmix64 finalizer: a bijective, well-mixed hash of uint64 values."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def fleet_salt(*parts: str) -> int:
    digest = hashlib.blake2b("/".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def instance_id_numbers(salt: int, count: int) -> npt.NDArray[np.uint64]:
    """Distinct 64-bit numbers for `count` nodes (splitmix64 is a bijection), formatted
    as i-0 + 16 hex digits: 17 hex digits like an EC2 instance id."""
    idx = np.arange(count, dtype=np.uint64) ^ np.uint64(salt)
    return splitmix64(idx)


_GENERATION_SALT = 0xD1B54A32D192ED03


def replacement_id_number(number: int, generation: int) -> int:
    """The id number of the `generation`-th replacement of the instance numbered `number`
    (generation 0 is the instance itself): a different, deterministic EC2-style id."""
    if generation <= 0:
        return number
    x = np.array([number ^ ((generation * _GENERATION_SALT) & 0xFFFFFFFFFFFFFFFF)],
                 dtype=np.uint64)
    return int(splitmix64(x)[0])


def format_instance_id(number: int) -> str:
    return f"i-0{number:016x}"


def parse_instance_id(text: str) -> int | None:
    if len(text) != 19 or not text.startswith("i-0"):
        return None
    try:
        return int(text[3:], 16)
    except ValueError:
        return None
