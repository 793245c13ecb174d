"""AWS neuron-monitor JSON, both ways: reports for emulated nodes out, real reports in.

Out: `config` (neuron-monitor's own config file), `identity` (instance_info fields a
NodeDetail lacks: instance name, subnet, UltraServer id), `report` (a node's report line
from the v1 NodeDetail; `NodeReporter` for the daemon), `emulated` (embedded engine or
daemon feeds, the latter through `trnmon.api.client`, and the `trnmon monitor` loop).
In: `parse` (tolerant line parsing), `host` (state accumulated from reports), `views`
(NodeDetail, FleetSummary, history), `feed` (stdin or a child process),
`exposition` (the exporter's catalog for a real host).
"""
