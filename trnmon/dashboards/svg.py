"""A picture of a dashboard's layout as SVG, drawn from the generated JSON itself.

No browser or Grafana needed: each panel is a box at its gridPos, labelled with its title,
type and first query's metric, so the README image can never disagree with the dashboards.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from trnmon.dashboards.promql import metric_names

COL_PX = 40  # one of Grafana's 24 columns
ROW_PX = 22  # one grid unit of height
PAD = 3
TYPE_COLOUR = {"timeseries": "#3274d9", "stat": "#56a64b", "bargauge": "#e0b400",
               "table": "#8f3bb8", "heatmap": "#e02f44", "row": "#464c54"}


def _box(p: dict[str, Any], top: int) -> str:
    g = p["gridPos"]
    x, y = g["x"] * COL_PX + PAD, top + g["y"] * ROW_PX + PAD
    w, h = g["w"] * COL_PX - 2 * PAD, g["h"] * ROW_PX - 2 * PAD
    colour = TYPE_COLOUR.get(p["type"], "#777")
    title = p["title"]
    if p.get("repeat"):
        title += f"  (one per ${p['repeat']})"
    if p["type"] == "row":
        return (f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="2" fill="{colour}"/>'
                f'<text x="{x + 8}" y="{y + h - 5}" class="row">{escape(title)}</text>')
    exprs = [t["expr"] for t in p.get("targets", [])]
    names = sorted({m for e in exprs for m in metric_names(e)})
    metric = names[0] if names else ""
    if len(names) > 1:
        metric += f" +{len(names) - 1}"
    max_chars = max(8, w // 7)
    return (f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4" fill="#181b1f" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<rect x="{x}" y="{y}" width="6" height="{h}" fill="{colour}"/>'
            f'<text x="{x + 12}" y="{y + 17}" class="t">{escape(title[:max_chars])}</text>'
            f'<text x="{x + 12}" y="{y + 33}" class="k">{escape(p["type"])}</text>'
            f'<text x="{x + 12}" y="{y + 48}" class="m">{escape(metric[:max_chars])}</text>')


def layout_svg(board: dict[str, Any]) -> str:
    panels = board["panels"]
    header = 56
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    width, height = 24 * COL_PX, header + bottom * ROW_PX + 8
    variables = " → ".join(v["name"] for v in board["templating"]["list"]
                           if v["type"] == "query")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        "<style>.t{fill:#e0e0e0;font-size:13px;font-weight:bold}"
        ".k{fill:#8e8e8e;font-size:11px}.m{fill:#9fc5f8;font-size:11px;font-family:monospace}"
        ".row{fill:#fff;font-size:12px;font-weight:bold}"
        ".h{fill:#fff;font-size:18px;font-weight:bold}.v{fill:#aaa;font-size:12px}</style>",
        f'<rect width="{width}" height="{height}" fill="#111217"/>',
        f'<text x="10" y="24" class="h">{escape(board["title"])}</text>',
        f'<text x="10" y="44" class="v">variables: {escape(variables)}</text>',
    ]
    parts += [_box(p, header) for p in panels]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
