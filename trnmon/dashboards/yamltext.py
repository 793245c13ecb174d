"""A small, deterministic YAML writer for the files we generate (rules, configs, promtool tests).

PyYAML is not a dependency, and these files only hold mappings, lists, strings and numbers.
Strings are written so PromQL stays readable: plain when unambiguous, single-quoted when
they contain quotes or braces (no backslash escapes to get wrong), and as `|-` blocks when
they span lines (runbooks, long expressions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

Value = str | int | float | bool | None | Mapping[str, "Value"] | Sequence["Value"]

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_ ./+()-]*$")
_RESERVED = frozenset({"yes", "no", "true", "false", "null", "on", "off", "y", "n", "~"})


def _scalar(v: str | int | float | bool | None) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if _PLAIN.match(v) and v.lower() not in _RESERVED and not v.endswith(" "):
        return v
    return "'" + v.replace("'", "''") + "'"


def _block(text: str, indent: int) -> str:
    pad = " " * indent
    return "|-\n" + "\n".join(pad + line if line else "" for line in text.split("\n"))


def _emit(v: Value, indent: int, out: list[str], prefix: str) -> None:
    pad = " " * indent
    if isinstance(v, Mapping):
        if not v:
            out.append(f"{prefix}{{}}")
            return
        first = True
        for key, item in v.items():
            lead = prefix if first else pad
            first = False
            _item(f"{lead}{key}:", item, indent, out)
    elif isinstance(v, str | int | float | bool) or v is None:
        out.append(prefix + _value_text(v, indent))
    else:
        if not v:
            out.append(f"{prefix}[]")
            return
        first = True
        for item in v:
            lead = prefix if first else pad
            first = False
            _emit(item, indent + 2, out, f"{lead}- ")


def _value_text(v: str | int | float | bool | None, indent: int) -> str:
    if isinstance(v, str) and "\n" in v:
        return _block(v, indent + 2)
    return _scalar(v)


def _item(lead: str, item: Value, indent: int, out: list[str]) -> None:
    if isinstance(item, Mapping) and item:
        out.append(lead)
        _emit(item, indent + 2, out, " " * (indent + 2))
    elif isinstance(item, list | tuple) and item:
        out.append(lead)
        _emit(item, indent, out, " " * indent)
    else:
        _emit(item, indent, out, lead + " ")


def dump(v: Value, header: str = "") -> str:
    """YAML text for v; header lines become `#` comments at the top."""
    out = [f"# {line}".rstrip() for line in header.splitlines()]
    _emit(v, 0, out, "")
    return "\n".join(out) + "\n"
