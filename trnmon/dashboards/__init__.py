"""Grafana dashboards and Prometheus rules generated from the metric catalog.

`trnmon dashboards generate` writes dashboards/ from this package; see files.outputs().
"""
