"""Data sources for neuron-top: one interface, many feeds (embedded engine, daemon, ...).

Layering: sources import `trnmon.api` (and, for the embedded source, the engine); nothing
here imports textual, so a source can be used by any client.
"""

from trnmon.sources.base import FleetSource, SourceStatus

__all__ = ["FleetSource", "SourceStatus"]
