"""Grafana JSON building blocks: targets, panels, rows, template variables, layout.

Only what the three dashboards need, written for Grafana 10/11 (schemaVersion 39). Panels
are plain dicts so the output is exactly what Grafana imports; `Layout` assigns ids and
grid positions in reading order so a dashboard reads top to bottom like its definition.
"""

from __future__ import annotations

from typing import Any

from trnmon.dashboards.promql import TOPOLOGY_LABELS
from trnmon.exporter.names import SCRAPE_JOB
from trnmon.hw.catalog import CHIPS

Panel = dict[str, Any]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH = 24

# Colour steps: (value, colour); the first value is None (the base colour).
Steps = tuple[tuple[float | None, str], ...]
OK_WARN_BAD: Steps = ((None, "green"), (0.9, "orange"), (0.97, "red"))
# The catalog's limits (every Neuron chip shares them): orange from the throttle
# temperature, red from the critical one, where a device shuts down.
THROTTLE_C = max(c.throttle_celsius for c in CHIPS.values())
CRITICAL_C = max(c.critical_celsius for c in CHIPS.values())
TEMPERATURE: Steps = ((None, "green"), (THROTTLE_C, "orange"), (CRITICAL_C, "red"))
ANY_BAD: Steps = ((None, "green"), (1.0, "red"))
BLUE: Steps = ((None, "blue"),)


def target(expr: str, legend: str = "", *, instant: bool = False, ref: str = "A",
           table: bool = False) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "refId": ref, "expr": expr,
            "legendFormat": legend or "__auto", "range": not instant, "instant": instant,
            "format": "table" if table else "time_series"}


def _targets(exprs: list[tuple[str, str]] | str, instant: bool = False,
             table: bool = False) -> list[dict[str, Any]]:
    if isinstance(exprs, str):
        exprs = [(exprs, "")]
    return [target(e, legend, instant=instant, ref=chr(ord("A") + i), table=table)
            for i, (e, legend) in enumerate(exprs)]


def _defaults(unit: str, steps: Steps, minimum: float | None = None,
              maximum: float | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "unit": unit,
        "thresholds": {"mode": "absolute", "steps": [
            {"value": v, "color": c} for v, c in steps]},
        "color": {"mode": "thresholds" if len(steps) > 1 else "palette-classic"},
    }
    if minimum is not None:
        d["min"] = minimum
    if maximum is not None:
        d["max"] = maximum
    return d


def timeseries(title: str, exprs: list[tuple[str, str]] | str, *, unit: str = "short",
               steps: Steps = BLUE, stack: bool = False, w: int = 12, h: int = 8,
               minimum: float | None = None, maximum: float | None = None,
               description: str = "") -> Panel:
    defaults = _defaults(unit, steps, minimum, maximum)
    defaults["color"] = {"mode": "palette-classic"}
    defaults["custom"] = {
        "drawStyle": "line", "lineWidth": 1, "fillOpacity": 20 if stack else 0,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "showPoints": "never",
        "thresholdsStyle": {"mode": "dashed" if len(steps) > 1 else "off"}}
    return {"type": "timeseries", "title": title, "description": description,
            "datasource": DATASOURCE, "targets": _targets(exprs),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom",
                                   "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "_size": (w, h)}


def stat(title: str, exprs: list[tuple[str, str]] | str, *, unit: str = "short",
         steps: Steps = BLUE, w: int = 4, h: int = 4, description: str = "") -> Panel:
    return {"type": "stat", "title": title, "description": description,
            "datasource": DATASOURCE, "targets": _targets(exprs, instant=True),
            "fieldConfig": {"defaults": _defaults(unit, steps), "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                          "values": False},
                        "colorMode": "background" if len(steps) > 1 else "value",
                        "graphMode": "none", "textMode": "auto",
                        "orientation": "auto", "justifyMode": "auto"},
            "_size": (w, h)}


def bargauge(title: str, exprs: list[tuple[str, str]] | str, *, unit: str = "short",
             steps: Steps = BLUE, w: int = 12, h: int = 8, minimum: float | None = None,
             maximum: float | None = None, description: str = "") -> Panel:
    return {"type": "bargauge", "title": title, "description": description,
            "datasource": DATASOURCE, "targets": _targets(exprs, instant=True),
            "fieldConfig": {"defaults": _defaults(unit, steps, minimum, maximum),
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                          "values": False},
                        "orientation": "horizontal", "displayMode": "gradient",
                        "showUnfilled": True},
            "_size": (w, h)}


def table(title: str, expr: str, *, w: int = 12, h: int = 8,
          hide: tuple[str, ...] = ("Time", "__name__"), description: str = "") -> Panel:
    return {"type": "table", "title": title, "description": description,
            "datasource": DATASOURCE, "targets": _targets(expr, instant=True, table=True),
            "fieldConfig": {"defaults": {"unit": "short"}, "overrides": []},
            "options": {"showHeader": True, "cellHeight": "sm"},
            "transformations": [{"id": "organize", "options": {
                "excludeByName": dict.fromkeys(hide, True)}}],
            "_size": (w, h)}


def heatmap(title: str, expr: str, legend: str, *, unit: str = "percentunit", w: int = 12,
            h: int = 8, description: str = "") -> Panel:
    """One row per series (a rack, an UltraServer): already-aggregated values, no bucketing."""
    return {"type": "heatmap", "title": title, "description": description,
            "datasource": DATASOURCE, "targets": _targets([(expr, legend)]),
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"calculate": False, "cellGap": 1,
                        "color": {"mode": "scheme", "scheme": "Turbo", "min": 0, "max": 1,
                                  "fill": "dark-orange", "scale": "linear", "steps": 64},
                        "yAxis": {"axisPlacement": "left", "unit": "short"},
                        "rowsFrame": {"layout": "auto"},
                        "cellValues": {"unit": unit},
                        "tooltip": {"mode": "single", "yHistogram": False},
                        "legend": {"show": True}},
            "_size": (w, h)}


def row(title: str, *, repeat: str | None = None) -> Panel:
    p: Panel = {"type": "row", "title": title, "collapsed": False, "panels": [],
                "_size": (GRID_WIDTH, 1)}
    if repeat:
        p["repeat"] = repeat
    return p


def repeat(panel: Panel, variable: str, *, max_per_row: int = 4) -> Panel:
    """One copy of the panel per selected value: no hard-coded device or node numbers."""
    return {**panel, "repeat": variable, "repeatDirection": "h", "maxPerRow": max_per_row}


def layout(panels: list[Panel]) -> list[Panel]:
    """Ids and gridPos in reading order: fill a row of 24 columns, then wrap."""
    out: list[Panel] = []
    x = y = row_h = 0
    for i, p in enumerate(panels, start=1):
        w, h = p["_size"]
        if x + w > GRID_WIDTH or p["type"] == "row":
            x, y, row_h = 0, y + row_h, 0
        q = {k: v for k, v in p.items() if k != "_size"}
        q["id"] = i
        q["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        out.append(q)
        x += w
        row_h = max(row_h, h)
        if p["type"] == "row":
            x, y, row_h = 0, y + h, 0
    return out


# --- template variables -----------------------------------------------------------------
def datasource_variable() -> dict[str, Any]:
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1, "regex": "",
            "options": []}


def query_variable(name: str, query: str, *, label: str = "", multi: bool = True) -> \
        dict[str, Any]:
    # allValue ".*" rather than Grafana's value list: it also matches series that lack the
    # label (a standalone node has no ultraserver), and keeps queries short on big fleets.
    return {"name": name, "label": label or name, "type": "query", "datasource": DATASOURCE,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": query, "refresh": 2, "sort": 3 if name == "neuron_device" else 1,
            "multi": multi, "includeAll": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "hide": 0, "regex": "", "options": []}


def topology_variables(*, devices: bool = True) -> list[dict[str, Any]]:
    """availability_zone -> rack -> ultraserver -> instance_id (-> neuron_device), each
    listing only the values under the selections before it."""
    out = [datasource_variable()]
    matchers = [f'job="{SCRAPE_JOB}"']
    for lab in TOPOLOGY_LABELS:
        out.append(query_variable(lab, f"label_values(up{{{', '.join(matchers)}}}, {lab})",
                                  label=lab.replace("_", " ")))
        matchers.append(f'{lab}=~"${lab}"')
    if devices:
        out.append(query_variable(
            "neuron_device",
            'label_values(neuron_device_temperature_celsius{instance_id=~"$instance_id"}, '
            "neuron_device)", label="neuron device"))
    return out


def dashboard(uid: str, title: str, description: str, panels: list[Panel],
              variables: list[dict[str, Any]], *, tags: tuple[str, ...] = (),
              links: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["trnmon", "trainium", *tags], "timezone": "browser",
        "editable": True, "graphTooltip": 1, "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"}, "schemaVersion": 39, "version": 1,
        "templating": {"list": variables},
        "annotations": {"list": [{
            "name": "Alerts", "datasource": DATASOURCE, "enable": True, "iconColor": "red",
            "expr": 'ALERTS{alertstate="firing", alertname=~"Neuron.*"}',
            "titleFormat": "{{alertname}}", "textFormat": "{{instance_id}}",
            "step": "60s"}]},
        "links": links or [],
        "panels": layout(panels),
    }
