"""YAML text for the generated files (rules, configs, promtool tests), via PyYAML.

`safe_dump` with key order kept, no line wrapping (PromQL stays on one line) and `|-`
blocks for multi-line strings (runbooks, long expressions), so the files read like
hand-written ones and are byte-stable from run to run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

Value = str | int | float | bool | None | Mapping[str, "Value"] | Sequence["Value"]


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as literal blocks and indents lists."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(tuple, yaml.SafeDumper.represent_list)


def dump(v: Value, header: str = "") -> str:
    """YAML text for v; header lines become `#` comments at the top."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    body: str = yaml.dump(v, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                          allow_unicode=True, width=1 << 16)
    return "".join(line + "\n" for line in lines) + body


def load(text: str) -> Any:
    """Parse YAML text (tests read the generated files back with this)."""
    return yaml.safe_load(text)
