"""`trnmon bench exporter`: node exposition cost, a whole fleet's, and prometheus_client's.

* ``exporter.node``: one trn2u node, re-rendered each run (text cache off; the label
  layout is static per node and stays cached, as in the daemon).
* ``exporter.fleet``: every node of a 40k-chip fleet once. ``cold_seconds`` includes
  building each node's layout (the first scrape after start); ``seconds`` and
  ``series_per_s`` are the steady state, one render per node per tick.
* ``exporter.naive``: the same node through prometheus_client's CollectorRegistry with
  labelled Gauges/Counters (children created once, then ``.labels(...).set()`` / ``.inc()``
  and ``generate_latest`` per scrape), measured in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from trnmon.bench.timing import median_ms, progress
from trnmon.config import FleetConfig, load_config
from trnmon.exporter.catalog import CATALOG
from trnmon.exporter.layout import node_context, scope_items
from trnmon.exporter.render import NodeRenderer
from trnmon.exporter.values import node_values
from trnmon.sim import Engine
from trnmon.snapshot import FleetSnapshot

DEFAULT_FLEET_CHIPS = 40_000


def _fleet(chips: int) -> FleetConfig:
    if chips == DEFAULT_FLEET_CHIPS:
        return load_config(preset_name="ultracluster-40k", environ={}, overrides={"seed": 1})
    azs = [{"name": "us-east-2a", "zone_id": "use2-az1", "racks_per_row": 16,
            "datacenters": max(1, chips // 51_200), "nodes": {"ultraservers": max(chips // 64, 1)}}]
    return load_config(preset_name="ultracluster-40k", environ={},
                       overrides={"availability_zones": azs, "seed": 1,
                                  "name": f"bench-{chips}"})


def _snapshot(cfg: FleetConfig, ticks: int = 3) -> FleetSnapshot:
    eng = Engine(cfg)
    for _ in range(ticks):
        eng.step()
    return FleetSnapshot.capture(eng)


def naive_scraper(snap: FleetSnapshot, node: int) -> Callable[[], bytes]:
    """A straightforward prometheus_client exporter for one node; returns its scrape."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

    lay, jobs = NodeRenderer(cache=False).prepare(snap, node)
    topo = snap.topology
    ctx = node_context(topo, node, lay.jobs)
    valid = topo.port_valid[lay.chips]
    link_local, link_port = np.nonzero(valid)
    registry = CollectorRegistry(auto_describe=False)
    children: list[tuple[Any, bool, list[Any]]] = []  # (metric, is_counter, children)
    for m in CATALOG:
        names = list(m.label_names)
        cls = Counter if m.type == "counter" else Gauge
        name = m.name.removesuffix("_total") if m.type == "counter" else m.name
        metric = cls(name, m.help, names, registry=registry)
        kids = []
        for item in scope_items(m, topo, node, lay.jobs, link_local + lay.chips.start,
                                 link_port):
            for combo in itertools.product(*(v for _, v in m.enums)):
                labels = {**ctx, **item, **dict(m.const),
                          **dict(zip([n for n, _ in m.enums], combo, strict=True))}
                kids.append(metric.labels(*(labels[k] for k in names)))
        children.append((m, m.type == "counter", kids))
    previous: dict[str, list[float]] = {}

    def scrape() -> bytes:
        vals = node_values(snap, lay, jobs)
        for m, counter, kids in children:
            flat = np.ravel(np.asarray(vals[m.name], dtype=np.float64)).tolist()
            if counter:
                before = previous.get(m.name, [0.0] * len(flat))
                for child, v, b in zip(kids, flat, before, strict=True):
                    child.inc(v - b)
                previous[m.name] = flat
            else:
                for child, v in zip(kids, flat, strict=True):
                    child.set(v)
        out: bytes = generate_latest(registry)
        return out

    return scrape


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    repeat = args.repeat or 50
    try:
        from prometheus_client import disable_created_metrics
        disable_created_metrics()  # type: ignore[no-untyped-call]  # same series as ours
    except ImportError:
        pass

    progress("exporter: tiny fleet, one trn2u node")
    small = _snapshot(load_config(preset_name="tiny", environ={}, overrides={"seed": 7}))
    node = next(n for n in range(small.topology.n_nodes)
                if small.topology.instance_type(n).name == "trn2u.48xlarge")
    renderer = NodeRenderer(cache=False)
    series = renderer.series(small, node)
    ours_ms, _ = median_ms(lambda: renderer.render(small, node), repeat=repeat)
    yield {"bench": "exporter.node", "instance_type": "trn2u.48xlarge", "series": series,
           "median_ms": round(ours_ms, 3)}

    scrape = naive_scraper(small, node)
    naive_ms, _ = median_ms(scrape, repeat=max(repeat // 5, 5))
    yield {"bench": "exporter.naive", "series": series, "median_ms": round(naive_ms, 3),
           "ours_median_ms": round(ours_ms, 3), "speedup": round(naive_ms / ours_ms, 1)}

    for chips in args.chips or [DEFAULT_FLEET_CHIPS]:
        progress(f"exporter: fleet of {chips} chips")
        snap = _snapshot(_fleet(chips), ticks=1)
        fleet = NodeRenderer(cache=False)
        nodes = range(snap.topology.n_nodes)
        t = time.perf_counter()
        total = sum(len(fleet.render(snap, n)) for n in nodes)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        for n in nodes:
            fleet.render(snap, n)
        warm = time.perf_counter() - t
        n_series = sum(fleet.series(snap, n) for n in nodes)
        yield {"bench": "exporter.fleet", "chips": snap.topology.n_chips,
               "nodes": snap.topology.n_nodes, "series": n_series,
               "seconds": round(warm, 3), "series_per_s": round(n_series / warm),
               "cold_seconds": round(cold, 3), "megabytes": round(total / 1e6, 1)}
