"""neuron-monitor's configuration file (reference §4.1), as `trnmon monitor --config` reads it.

```json
{"period": "1s",
 "neuron_runtimes": [{"tag_filter": ".*", "metrics": [{"type": "neuroncore_counters"},
                                                      {"type": "execution_stats"}]}],
 "system_metrics": [{"type": "vcpu_usage"}, {"type": "neuron_hw_counters", "period": "2s"}]}
```

`period` may sit at the root, on a runtime entry or on a metric group; the innermost wins
(default 5 s). A runtime is reported by the first entry whose `tag_filter` regex matches
its whole tag. Legacy 1.x group names are accepted. Without a file every group of every
runtime is collected every 5 s, like neuron-monitor without `-c`. Any problem is one
`MonitorConfigError` line naming the key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trnmon.errors import ConfigError
from trnmon.neuron_monitor.schema import (
    DEFAULT_PERIOD_S,
    RUNTIME_GROUPS,
    SYSTEM_GROUPS,
    canonical_group,
)

_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
MIN_PERIOD_S = 0.001
MAX_TAG_FILTER = 255  # the documented limit of NEURON_PROCESS_TAG (reference §4.1)


class MonitorConfigError(ConfigError):
    """The neuron-monitor configuration file is invalid."""


@dataclass(frozen=True, slots=True)
class RuntimeRule:
    tag_filter: re.Pattern[str]
    groups: dict[str, float]  # group -> period in seconds


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    period: float = DEFAULT_PERIOD_S
    runtimes: tuple[RuntimeRule, ...] = ()
    system: dict[str, float] = field(default_factory=dict)  # group -> period

    @classmethod
    def default(cls, period: float = DEFAULT_PERIOD_S) -> MonitorConfig:
        """Everything, for every runtime, every `period` seconds (no `-c`)."""
        return cls(period=period,
                   runtimes=(RuntimeRule(re.compile(".*"), dict.fromkeys(RUNTIME_GROUPS,
                                                                         period)),),
                   system=dict.fromkeys(SYSTEM_GROUPS, period))

    def rule_for(self, tag: str) -> RuntimeRule | None:
        for rule in self.runtimes:
            if rule.tag_filter.fullmatch(tag):
                return rule
        return None

    def periods(self) -> list[float]:
        """Every distinct group period: the report loop wakes at the shortest."""
        found = set(self.system.values())
        for rule in self.runtimes:
            found.update(rule.groups.values())
        return sorted(found) or [self.period]


def parse_period(value: object, where: str) -> float:
    """"1s", "500ms", "2m", "1h" or a number of seconds."""
    if isinstance(value, bool):
        raise MonitorConfigError(f"{where}: expected a duration like \"1s\", got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _PERIOD.match(value)):
        seconds = float(m.group(1)) * _UNIT[m.group(2)]
    else:
        raise MonitorConfigError(f"{where}: expected a duration like \"1s\" or \"500ms\", "
                                 f"got {value!r}")
    if not MIN_PERIOD_S <= seconds <= 86400:
        raise MonitorConfigError(f"{where}: period must be between 1ms and 24h, "
                                 f"got {value!r}")
    return seconds


def _groups(items: object, allowed: tuple[str, ...], default: float, where: str
            ) -> dict[str, float]:
    if not isinstance(items, list):
        raise MonitorConfigError(f"{where}: expected a list of {{\"type\": ...}} objects")
    out: dict[str, float] = {}
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise MonitorConfigError(f"{here}: expected an object with a \"type\" string")
        name = canonical_group(item["type"])
        if name not in allowed:
            raise MonitorConfigError(f"{here}.type: unknown metric group {item['type']!r} "
                                     f"(expected one of {', '.join(allowed)})")
        _only(item, {"type", "period"}, here)
        out[name] = parse_period(item["period"], f"{here}.period") if "period" in item \
            else default
    return out


def _only(obj: dict[str, Any], keys: set[str], where: str) -> None:
    extra = sorted(set(obj) - keys)
    if extra:
        raise MonitorConfigError(f"{where}: unknown key {extra[0]!r}")


def config_from_dict(doc: object) -> MonitorConfig:
    if not isinstance(doc, dict):
        raise MonitorConfigError("the configuration must be a JSON object")
    _only(doc, {"period", "neuron_runtimes", "system_metrics"}, "config")
    period = parse_period(doc["period"], "period") if "period" in doc else DEFAULT_PERIOD_S
    rules = []
    runtimes = doc.get("neuron_runtimes", [])
    if not isinstance(runtimes, list):
        raise MonitorConfigError("neuron_runtimes: expected a list")
    for i, entry in enumerate(runtimes):
        where = f"neuron_runtimes[{i}]"
        if not isinstance(entry, dict):
            raise MonitorConfigError(f"{where}: expected an object")
        _only(entry, {"tag_filter", "metrics", "period", "address"}, where)
        pattern = entry.get("tag_filter", ".*")
        if not isinstance(pattern, str) or len(pattern) > MAX_TAG_FILTER:
            raise MonitorConfigError(f"{where}.tag_filter: expected a regex string of at most "
                                     f"{MAX_TAG_FILTER} characters")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise MonitorConfigError(f"{where}.tag_filter: bad regex {pattern!r}: {exc}"
                                     ) from None
        rp = parse_period(entry["period"], f"{where}.period") if "period" in entry else period
        groups = _groups(entry.get("metrics", []), RUNTIME_GROUPS, rp, f"{where}.metrics")
        rules.append(RuntimeRule(regex, groups))
    system = _groups(doc.get("system_metrics", []), SYSTEM_GROUPS, period, "system_metrics")
    return MonitorConfig(period=period, runtimes=tuple(rules), system=system)


def load_monitor_config(path: str | Path | None) -> MonitorConfig:
    if path is None:
        return MonitorConfig.default()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MonitorConfigError(f"{path}: cannot read the neuron-monitor config: {reason}"
                                 ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MonitorConfigError(f"{path}: not JSON: {exc.msg} at line {exc.lineno} "
                                 f"column {exc.colno}") from None
    try:
        return config_from_dict(doc)
    except MonitorConfigError as exc:
        raise MonitorConfigError(f"{path}: {exc}") from None
