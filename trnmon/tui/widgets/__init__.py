"""neuron-top widgets: one concept per module."""

from trnmon.tui.widgets.header import FleetHeader
from trnmon.tui.widgets.heatmap import HeatmapView
from trnmon.tui.widgets.keyed_table import Cell, Column, KeyedTable
from trnmon.tui.widgets.node_panels import CoreGrid, HostPanel, TorusView

__all__ = ["Cell", "Column", "CoreGrid", "FleetHeader", "HeatmapView", "HostPanel",
           "KeyedTable", "TorusView"]
