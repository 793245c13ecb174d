"""A real Prometheus discovers every node of `tiny` through /sd and answers PromQL."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow  # starts a daemon and a real Prometheus


def test_prometheus_scrapes_every_node_via_sd(daemon_factory: Any,
                                              prometheus_factory: Any) -> None:
    d = daemon_factory()
    ids = {t["labels"]["instance"] for t in d.get_json("/sd")}
    assert len(ids) == 6
    prom = prometheus_factory(d.url + "/sd")

    up = prom.wait_for('up{job="trnmon"}', lambda r: len(r) == 6
                       and all(s["value"][1] == "1" for s in r))
    assert {s["metric"]["instance"] for s in up} == ids
    for s in up:  # SD target labels arrive on every series
        m = s["metric"]
        assert m["region"] == "us-east-2" and m["availability_zone"] == "us-east-2a"
        assert m["rack"] and m["row"] and m["instance_type"]
        # Standalone nodes have an empty ultraserver label, which Prometheus drops.
        assert ("ultraserver" in m) == (m["instance_type"] == "trn2u.48xlarge")
    power = prom.wait_for("sum by (instance) (neuron_device_power_watts)",
                          lambda r: len(r) == 6)
    assert all(float(s["value"][1]) > 0 for s in power)
    by_type = prom.query("count by (instance_type) (neuron_device_temperature_celsius)")
    assert {s["metric"]["instance_type"]: int(s["value"][1]) for s in by_type} == {
        "trn2u.48xlarge": 64, "trn1.32xlarge": 16, "inf2.48xlarge": 12}

    # A lost node answers 503: Prometheus records up == 0 for exactly that target.
    lost = sorted(ids)[0]
    status, _, _ = d.request("POST", "/api/v1/faults",
                             {"kind": "node_loss", "instance_id": lost}, token=True)
    assert status == 201
    down = prom.wait_for('up{job="trnmon"} == 0', lambda r: len(r) == 1)
    assert down[0]["metric"]["instance"] == lost
