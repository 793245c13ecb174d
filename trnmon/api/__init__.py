"""The versioned JSON view of a fleet (models), built from snapshots (views), with history."""

from trnmon.api.history import HistoryBuffer
from trnmon.api.models import API_VERSION, FleetSummary, NodeDetail
from trnmon.api.views import fleet_summary, fleet_topology, node_detail

__all__ = ["API_VERSION", "FleetSummary", "HistoryBuffer", "NodeDetail", "fleet_summary",
           "fleet_topology", "node_detail"]
