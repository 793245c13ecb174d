"""Prometheus exposition of the emulated fleet: metric catalog, per-node rendering."""

from trnmon.exporter.catalog import CATALOG, Metric, markdown_table
from trnmon.exporter.render import CONTENT_TYPE, NodeRenderer, render_node, render_self_metrics

__all__ = ["CATALOG", "CONTENT_TYPE", "Metric", "NodeRenderer", "markdown_table", "render_node",
           "render_self_metrics"]
