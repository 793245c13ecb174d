"""Bounded series per node, monotonic counters, and render-once-per-tick caching."""

from __future__ import annotations

import re

import pytest

from tests.exporter.fleets import INF2, TRN1, TRN2U, tiny_engine
from trnmon.exporter.catalog import CATALOG, EXTENSION_METRICS
from trnmon.exporter.layout import expected_series
from trnmon.exporter.render import NodeRenderer, render_self_metrics
from trnmon.snapshot import FleetSnapshot

SAMPLE = re.compile(r"^([a-z_]+)(\{.*\})? (\S+)$")


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, line
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def test_trn2u_series_count_is_exact(tiny_snap: FleetSnapshot) -> None:
    # Per logical core (64): utilization, flops, 5 memory kinds, 4 engines = 11 x 64 = 704.
    # Per device (16): 4 ECC + 8 device gauges/counters + 5 health states = 17 x 16 = 272.
    # Per link (16 x (4 torus + 2 UltraServer ring) = 96): tx, rx, errors + 3 states = 576.
    # Per node: 2+2+6+6+7 runtime + 1+2+4 system + 2 info + 2 EFA = 34; a job it leads:
    # 1 info + step, MFU, tokens, restarts, 6 goodput states, effective training time, cost,
    # cost per hour, tokens per dollar, goodput tokens per dollar = 16.
    # Per EFA device (16): up, tx, rx, errors = 4 x 16 = 64. (A serving job it leads adds
    # time to first token and inter-token latency; this node's job trains.)
    want = 704 + 272 + 576 + 34 + 16 + 64
    assert expected_series(tiny_snap.topology, TRN2U, jobs=1, leads=1) == want == 1666
    text = NodeRenderer().render(tiny_snap, TRN2U)
    assert len(samples(text)) == 1666
    assert text.count("# TYPE ") == len(CATALOG)


@pytest.mark.parametrize("node,cores,links,efa,serving", [(TRN1, 32, 64, 8, 0),
                                                          (INF2, 24, 24, 0, 1)],
                         ids=["trn1", "inf2"])
def test_other_node_types(tiny_snap: FleetSnapshot, node: int, cores: int,
                          links: int, efa: int, serving: int) -> None:
    topo = tiny_snap.topology
    chips = len(topo.node_chips(node))
    want = cores * 11 + chips * 17 + links * 6 + 34 + 16 + efa * 4 + serving * 2
    assert expected_series(topo, node, jobs=1, leads=1, serving_leads=serving) == want
    assert len(samples(NodeRenderer().render(tiny_snap, node))) == want


def test_labels_per_series_stay_small(tiny_snap: FleetSnapshot) -> None:
    # Mimir rejects series with more than 30 labels; stay well under 20 (reference §6).
    assert max(len(m.label_names) for m in CATALOG) < 20
    # Extension metrics carry no location labels: those are target labels.
    for m in EXTENSION_METRICS:
        assert not {"availability_zone", "region", "rack", "row", "ultraserver"} & set(
            m.label_names), m.name


def test_counters_never_decrease_and_labels_do_not_churn() -> None:
    eng = tiny_engine(ticks=3)
    renderer = NodeRenderer()
    counters = [m.name for m in CATALOG if m.type == "counter"]
    previous: list[dict[str, float]] = []
    for _ in range(4):
        for _ in range(3):
            eng.step()
        snap = FleetSnapshot.capture(eng)
        now = [samples(renderer.render(snap, n)) for n in range(snap.topology.n_nodes)]
        for before, after in zip(previous, now, strict=False):
            # A node keeps its series while its job runs (a job change may swap a few).
            common = before.keys() & after.keys()
            assert len(common) >= 0.9 * len(before)
            for key in common:
                if key.split("{")[0] in counters:
                    assert after[key] >= before[key], key
        previous = now
    assert any(v > 0 for s in previous for k, v in s.items()
               if k.startswith("neuronlink_tx_bytes_total"))


def test_each_node_renders_once_per_snapshot(tiny_snap: FleetSnapshot) -> None:
    renderer = NodeRenderer()
    first = renderer.render(tiny_snap, TRN2U)
    for _ in range(5):
        assert renderer.render(tiny_snap, TRN2U) is first
    assert renderer.renders == 1
    renderer.render(tiny_snap, TRN1)
    assert renderer.renders == 2
    uncached = NodeRenderer(cache=False)
    uncached.render(tiny_snap, TRN2U)
    assert uncached.render(tiny_snap, TRN2U) == first and uncached.renders == 2


def test_new_snapshot_renders_again() -> None:
    eng = tiny_engine(ticks=2)
    renderer = NodeRenderer()
    a = renderer.render(FleetSnapshot.capture(eng), TRN2U)
    eng.step()
    b = renderer.render(FleetSnapshot.capture(eng), TRN2U)
    assert renderer.renders == 2 and a != b


def test_self_metrics(tiny_snap: FleetSnapshot) -> None:
    renderer = NodeRenderer()
    renderer.render(tiny_snap, TRN2U)
    got = samples(render_self_metrics(tiny_snap, renderer))
    assert got["trnmon_emulated_chips"] == 92 and got["trnmon_emulated_nodes"] == 6
    assert got["trnmon_render_duration_seconds"] > 0
    assert got["trnmon_tick"] == tiny_snap.tick


def test_text_cache_is_bounded(tiny_snap: FleetSnapshot) -> None:
    renderer = NodeRenderer(max_bytes=400_000)  # room for one trn2u node (~300 kB)
    for node in range(4):
        renderer.render(tiny_snap, node)
    renderer.render(tiny_snap, 3)
    assert renderer.renders == 4  # the latest is still cached
    renderer.render(tiny_snap, 0)
    assert renderer.renders == 5  # the oldest was dropped
