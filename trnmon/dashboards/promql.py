"""PromQL text built from the metric catalog, and the checks that keep it honest.

Every metric name a dashboard or rule uses goes through `sel()`, which looks it up in the
exporter catalog (or the recording rules) and fails at generation time if it is missing:
renaming a metric in the catalog breaks `trnmon dashboards generate`, not a dashboard in
production. `metric_names()` is the independent check the tests run over the output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from trnmon.exporter.catalog import BY_NAME

# Target labels from the daemon's /sd, plus instance_id copied from `instance` by the
# shipped scrape config (so `up` can be filtered like every other series).
TOPOLOGY_LABELS = ("availability_zone", "rack", "ultraserver", "instance_id")

# Series Prometheus makes itself, not the exporter: allowed beside catalog and rule names.
SYNTHETIC = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"})

_RECORDED: dict[str, tuple[str, ...]] = {}  # recording-rule name -> labels it keeps


def register_recorded(name: str, labels: tuple[str, ...]) -> str:
    """Declare a recording rule's output so dashboards can select it like a metric."""
    if name in BY_NAME or ":" not in name:
        raise ValueError(f"recording rule {name!r} must be level:metric:operation")
    _RECORDED[name] = labels
    return name


def recorded_names() -> frozenset[str]:
    return frozenset(_RECORDED)


def labels_of(name: str) -> tuple[str, ...]:
    """The label names a series of this metric can carry (catalog, rule or synthetic)."""
    if name in BY_NAME:
        return BY_NAME[name].label_names + TOPOLOGY_LABELS
    if name in _RECORDED:
        return _RECORDED[name]
    if name in SYNTHETIC:
        return (*TOPOLOGY_LABELS, "job", "instance")
    raise KeyError(f"{name!r} is neither in the metric catalog nor a recording rule")


def _matcher(label: str, value: str) -> str:
    # "=~" for template variables and "!~"/"!=" prefixes for negation; values are literal.
    for op in ("!~", "=~", "!="):
        if value.startswith(op):
            return f'{label}{op}"{value[len(op):]}"'
    return f'{label}="{value}"'


def sel(name: str, *, scope: str = "", **matchers: str) -> str:
    """`name{...}`: explicit matchers, then the dashboard filters the metric can honour.

    scope "node" filters by topology and instance; "device" adds `neuron_device`; "" adds
    nothing (rules). A filter is only added for labels the metric carries, so a node-level
    series is never dropped because a device is selected.
    """
    have = labels_of(name)
    for label in matchers:
        if label not in have and label != "job":
            raise KeyError(f"{name} has no label {label!r}")
    parts = [_matcher(k, v) for k, v in matchers.items()]
    if scope in ("node", "device"):
        parts += [f'{lab}=~"${lab}"' for lab in TOPOLOGY_LABELS
                  if lab in have and lab not in matchers]
    if scope == "device" and "neuron_device" in have and "neuron_device" not in matchers:
        parts.append('neuron_device=~"$neuron_device"')
    return f"{name}{{{', '.join(parts)}}}" if parts else name


# --- checks over generated text ------------------------------------------------------------
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)")
_KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan", "sum", "avg", "min", "max", "count", "topk", "bottomk",
    "quantile", "stddev", "stdvar", "count_values", "group", "rate", "irate", "increase",
    "delta", "idelta", "deriv", "resets", "changes", "abs", "clamp", "clamp_max", "clamp_min",
    "vector", "scalar", "time", "timestamp", "label_replace", "label_join", "sort",
    "sort_desc", "absent", "absent_over_time", "avg_over_time", "max_over_time",
    "min_over_time", "sum_over_time", "count_over_time", "last_over_time",
    "quantile_over_time", "present_over_time", "histogram_quantile", "round", "ceil", "floor",
})


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads: identifiers that are not functions, keywords or
    label names inside `{}`/`by ()`/`on ()` lists."""
    text = _STRINGS.sub('""', expr)
    text = _BRACES.sub("{}", text)
    text = _RANGES.sub("[]", text)
    # label lists after by/without/on/ignoring/group_left/group_right
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1()",
                  text)
    names = set()
    for m in _IDENT.finditer(text):
        word = m.group(1)
        rest = text[m.end():].lstrip()
        if word.lower() in _KEYWORDS or rest.startswith("("):
            continue
        names.add(word)
    return names


def unknown_names(exprs: Iterable[str]) -> set[str]:
    known = set(BY_NAME) | set(_RECORDED) | SYNTHETIC
    return {n for e in exprs for n in metric_names(e)} - known


_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> int:
    m = _DURATION.fullmatch(duration)
    if m is None:
        raise ValueError(f"unsupported duration {duration!r}")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


def scale_ranges(expr: str, factor: float, minimum_s: int) -> str:
    """Every `[5m]` range divided by factor (not below minimum_s): the same expression on a
    clock that runs `factor` times faster (the end-to-end test's copy of the rules)."""
    def repl(m: re.Match[str]) -> str:
        return f"[{max(minimum_s, round(seconds(m.group(1)) / factor))}s]"
    return re.sub(r"\[(\d+[smhd])\]", repl, expr)
