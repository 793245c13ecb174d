"""Parsing the exposition back (prometheus_client's parser) gives the snapshot's values.

Expected values are recomputed here with plain loops over the state arrays, independently
of trnmon.exporter.values, for every metric family of the catalog.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.exporter.fleets import INF2, TRN1, TRN2U
from trnmon.exporter.catalog import BY_NAME, CATALOG, HEALTH_STATES, LINK_STATES
from trnmon.exporter.render import NodeRenderer
from trnmon.hw.catalog import ENGINES
from trnmon.sim.rules import HOST_BASE_MEM
from trnmon.sim.state import (
    ECC_EVENTS,
    EXECUTION_ERRORS,
    EXECUTION_STATUS,
    HBM_CATEGORIES,
    LATENCY_PERCENTILES,
)
from trnmon.snapshot import FleetSnapshot
from trnmon.topology import PORT_NAMES

Samples = dict[str, dict[frozenset[tuple[str, str]], float]]
REL = 1e-6


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    samples: Samples = {}
    types: dict[str, str] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            types[s.name] = fam.type
            samples.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value
    return samples, types


def one(samples: Samples, name: str, **labels: str | int) -> float:
    """The one sample of `name` matching `labels` (labels the metric lacks are ignored, so
    callers can pass AWS base labels to extension metrics too)."""
    names = set(BY_NAME[name].label_names)
    want = {(k, str(v)) for k, v in labels.items() if k in names}
    assert want, name
    hits = [v for key, v in samples[name].items() if want <= key]
    assert len(hits) == 1, f"{name} {labels}: {len(hits)} matches"
    return hits[0]


def close(got: float, want: float) -> bool:
    return got == pytest.approx(want, rel=REL, abs=1e-12)


@pytest.mark.parametrize("node", [TRN2U, TRN1, INF2], ids=["trn2u", "trn1", "inf2"])
def test_every_family_matches_the_arrays(tiny_snap: FleetSnapshot, node: int) -> None:
    snap, st, topo = tiny_snap, tiny_snap.state, tiny_snap.topology
    samples, types = parse(NodeRenderer().render(snap, node))
    job = next(j for j in snap.jobs if node in j.nodes)
    serving = job.kind in ("inference", "batch_inference")
    efa = topo.instance_type(node).efa_ports > 0
    # Serving latencies exist only for serving jobs, EFA devices only where there are some.
    assert set(samples) == {m.name for m in CATALOG
                            if (serving or m.scope != "serving_leader")
                            and (efa or m.scope != "efa")}
    for m in CATALOG:
        if m.name not in samples:
            continue
        assert types[m.name] == m.exposition_type, m.name
        for key in samples[m.name]:
            assert {k for k, _ in key} == set(m.label_names), m.name

    itype = topo.instance_type(node)
    numbering = topo.numbering(node)
    lpc, lnc = numbering.logical_per_chip, numbering.lnc
    chips = topo.node_chips(node)
    assert lpc == (4 if itype.chip_spec.supports_lnc else 2)
    base = {"instance_id": topo.instance_id(node), "instance_type": itype.name,
            "region": topo.region, "runtime_tag": job.name}

    for chip in chips:
        dev = int(topo.chip_local[chip])
        for i, core in enumerate(numbering.logical_ids(dev)):
            phys = range(i * lnc, (i + 1) * lnc)
            lab = {**base, "neuroncore": core, "neuron_device": dev}
            util = sum(float(st.core_util[chip, p]) for p in phys) / lnc
            assert close(one(samples, "neuroncore_utilization_ratio", **lab), util)
            flops = sum(float(st.core_flops[chip, p]) for p in phys)
            assert close(one(samples, "neuroncore_flops", **lab), flops)
            for e, engine in enumerate(ENGINES):
                active = sum(float(st.core_engine[chip, p, e]) for p in phys) / lnc
                assert close(one(samples, "neuroncore_engine_active_ratio", engine=engine,
                                 **lab), active)
            for c, cat in enumerate(HBM_CATEGORIES):
                assert close(one(samples, f"neuroncore_memory_usage_{cat}",
                                 memory_location="None", **lab),
                             float(st.hbm_used[chip, c]) / lpc)
        d = {"neuron_device": dev}
        for e, event in enumerate(ECC_EVENTS):
            assert one(samples, "hardware_ecc_events_total", event_type=event,
                       neuron_device_index=dev, **d) == st.ecc[chip, e]
        assert close(one(samples, "neuron_device_hbm_used_bytes", **d),
                     float(st.hbm_used[chip].sum()))
        assert one(samples, "neuron_device_hbm_total_bytes", **d) == itype.chip_spec.hbm_bytes
        for name, arr in (("neuron_device_hbm_bandwidth_utilization_ratio", st.hbm_bw_util),
                          ("neuron_device_power_watts", st.power_w),
                          ("neuron_device_temperature_celsius", st.temp_c),
                          ("neuron_device_clock_ratio", st.clock_scale),
                          ("neuron_device_throttled", st.throttled)):
            assert close(one(samples, name, **d), float(arr[chip])), name
        assert one(samples, "neuron_device_energy_joules_total", **d) == st.energy_j[chip]
        for h, state in enumerate(HEALTH_STATES):
            assert one(samples, "neuron_device_health_state", state=state, **d) == float(
                st.health[chip] == h)
        for port, link in enumerate(PORT_NAMES):
            peer = int(topo.port_peer[chip, port])
            if peer < 0:
                assert not [k for k in samples["neuronlink_tx_bytes_total"]
                            if ("neuron_device", str(dev)) in k and ("link", link) in k]
                continue
            lab = {**d, "link": link, "peer_device": int(topo.chip_local[peer]),
                   "peer_instance_id": topo.instance_id(int(topo.chip_node[peer]))}
            assert one(samples, "neuronlink_tx_bytes_total", **lab) == st.link_tx_bytes[
                chip, port]
            assert one(samples, "neuronlink_rx_bytes_total", **lab) == snap.link_rx_bytes[
                chip, port]
            assert one(samples, "neuronlink_errors_total", **lab) == st.link_errors[chip, port]
            for s, state in enumerate(LINK_STATES):
                assert one(samples, "neuronlink_state", state=state, **lab) == float(
                    st.link_state[chip, port] == s)

    c0, c1 = chips.start, chips.stop
    for s, status in enumerate(EXECUTION_STATUS):
        assert close(one(samples, "execution_status_total", status_type=status, **base),
                     float(st.exec_status[c0:c1, s].sum()))
    for e, error in enumerate(EXECUTION_ERRORS):
        assert close(one(samples, "execution_errors_total", error_type=error, **base),
                     float(st.exec_errors[c0:c1, e].sum()))
    lat = snap.latency_percentiles(slice(c0, c1))
    ran = [row for row in lat.tolist() if row[3] > 0]
    for p, pct in enumerate(LATENCY_PERCENTILES):
        want = sum(r[p] for r in ran) / len(ran) if ran else 0.0
        assert close(one(samples, "execution_latency_seconds", percentile=pct, **base), want)
    assert close(one(samples, "neuron_runtime_memory_used_bytes",
                     memory_location="neuron_device", **base),
                 float(st.hbm_used[c0:c1].astype("float64").sum()))
    assert close(one(samples, "neuron_runtime_memory_used_bytes", memory_location="host",
                     **base), max(float(st.host_mem_used[node]) - HOST_BASE_MEM, 0.0))
    for usage, arr in (("user", st.runtime_vcpu_user), ("system", st.runtime_vcpu_system)):
        assert close(one(samples, "neuron_runtime_vcpu_usage_ratio", usage_type=usage, **base),
                     float(arr[node]))
    for usage, arr in (("user", st.host_vcpu_user), ("system", st.host_vcpu_system)):
        assert close(one(samples, "system_vcpu_usage_ratio", usage_type=usage, **base),
                     min(float(arr[node]), 1.0))
    assert one(samples, "system_vcpu_count", **base) == itype.vcpus
    assert one(samples, "system_memory_total_bytes", **base) == itype.host_memory_bytes
    assert close(one(samples, "system_memory_used_bytes", **base), float(st.host_mem_used[node]))
    for swap in ("system_swap_total_bytes", "system_swap_used_bytes"):
        assert one(samples, swap, **base) == 0
    info = one(samples, "instance_info", instance_id=topo.instance_id(node),
               availability_zone=topo.location(node)["availability_zone"])
    assert info == 1
    assert one(samples, "neuron_hardware_info", neuron_device_count=itype.chips,
               neuroncore_per_device_count=lpc) == 1
    assert one(samples, "neuron_efa_tx_bytes_total", **base) == st.efa_tx_bytes[node]
    assert one(samples, "neuron_efa_rx_bytes_total", **base) == st.efa_rx_bytes[node]
    jl = {"job_id": job.job_id}
    assert one(samples, "neuron_job_info", job_name=job.name, job_kind=job.kind,
               model=job.model, **jl) == 1
    assert one(samples, "neuron_job_step_seconds", **jl) == job.step_s
    assert one(samples, "neuron_job_mfu_ratio", **jl) == job.mfu
    assert one(samples, "neuron_job_tokens_total", **jl) == job.tokens_total
    assert one(samples, "neuron_job_restarts_total", **jl) == job.restarts
    if serving:
        assert one(samples, "neuron_job_time_to_first_token_seconds", **jl) == job.ttft_s > 0
        assert one(samples, "neuron_job_inter_token_latency_seconds", **jl) == job.itl_s > 0


def test_idle_node_exports_zeros_not_nothing(idle_snap: FleetSnapshot) -> None:
    samples, _ = parse(NodeRenderer().render(idle_snap, TRN2U))
    jobless = {m.name for m in CATALOG if m.name.startswith("neuron_job_")}
    for m in CATALOG:
        if m.name in jobless:
            assert m.name not in samples
        else:
            assert samples[m.name], m.name
    utils = samples["neuroncore_utilization_ratio"]
    assert len(utils) == 64 and all(v == 0 for v in utils.values())
    assert all(("runtime_tag", "none") in k for k in utils)


def test_faults_show_up(faulted_snap: FleetSnapshot) -> None:
    r = NodeRenderer()
    s0, _ = parse(r.render(faulted_snap, 0))
    assert one(s0, "neuronlink_state", neuron_device=0, link="up", state="down") == 1
    s1, _ = parse(r.render(faulted_snap, 1))
    assert one(s1, "neuron_device_health_state", neuron_device=1, state="hung") == 1
    assert one(s1, "neuron_device_health_state", neuron_device=2, state="failed") == 1
    assert one(s1, "hardware_ecc_events_total", neuron_device=2,
               event_type="mem_ecc_uncorrected") >= 1
    s2, _ = parse(r.render(faulted_snap, 2))
    lost = s2["neuron_device_health_state"]
    assert sum(v for k, v in lost.items() if ("state", "lost") in k) == 16
