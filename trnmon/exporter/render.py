"""Prometheus text format 0.0.4 for one node, straight from the snapshot arrays.

Speed comes from doing per-series work once: `layout.build_layout` precomputes every
series' label text per (topology, node, jobs); a scrape then fills one float buffer with
numpy and formats it with a single ``template % values`` (integers exact, floats
shortest round-trip: `trnmon.exporter.samples`). Each node is rendered at most
once per snapshot however often it is scraped. Counters come straight from the engine's
monotonic float64 state, so they never decrease across ticks.

This module never imports prometheus_client: setting thousands of labelled children is
what this design avoids (see trnmon.bench.exporter for the comparison).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from trnmon.exporter.catalog import BY_NAME, SELF_METRICS
from trnmon.exporter.layout import JobKey, NodeLayout, build_layout
from trnmon.exporter.samples import sample_text, sample_values
from trnmon.exporter.values import fill
from trnmon.sim.goodput import effective_training_time
from trnmon.sim.rules import GOODPUT_STATES
from trnmon.sim.simstate import WAIT_BUCKETS_S
from trnmon.sim.taxonomy import CAUSE_NAMES
from trnmon.snapshot import FleetSnapshot, JobView
from trnmon.topology import Topology

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class NodeRenderer:
    """Renders node expositions with a layout cache and a per-snapshot text cache.

    ``cache=False`` keeps the layout cache (label text is static) but re-renders on every
    call, which is what the benchmark measures. The text cache holds the current
    snapshot's texts up to ``max_bytes`` (a trn2u node is ~300 kB, a whole 40k-chip fleet
    ~750 MB), dropping the oldest first: repeated scrapes of a node within one tick (HA
    Prometheus pairs, retries) hit it, while memory stays bounded at any fleet size.
    """

    def __init__(self, *, cache: bool = True, max_bytes: int = 128 << 20) -> None:
        self.cache = cache
        self.max_bytes = max_bytes
        self._cached_bytes = 0
        self._layouts: weakref.WeakKeyDictionary[Topology, dict[int, NodeLayout]] = (
            weakref.WeakKeyDictionary())
        self._snap: weakref.ref[FleetSnapshot] | None = None
        self._tick = -1
        self._texts: dict[int, str] = {}
        self._jobs: dict[int, JobView] = {}
        self._node_jobs: dict[int, tuple[JobKey, ...]] = {}
        self._lock = threading.Lock()
        self.last_render_s = 0.0
        self.renders = 0

    def layout(self, topo: Topology, node: int, jobs: tuple[JobKey, ...] = (),
               generation: npt.NDArray[np.int32] | None = None) -> NodeLayout:
        """The node's cached layout, rebuilt when its jobs change or a node its labels name
        was replaced (a new instance id)."""
        per_topo = self._layouts.setdefault(topo, {})
        lay = per_topo.get(node)
        if lay is None or lay.jobs != jobs or (generation is not None and tuple(
                generation[lay.ref_nodes].tolist()) != lay.generations):
            lay = per_topo[node] = build_layout(topo, node, jobs, generation)
        return lay

    def _use_snapshot(self, snap: FleetSnapshot) -> None:
        """Forget the previous snapshot's texts when a new snapshot (or tick) arrives."""
        if self._snap is not None and self._snap() is snap and self._tick == snap.tick:
            return
        self._snap, self._tick = weakref.ref(snap), snap.tick
        self._texts.clear()
        self._cached_bytes = 0
        self._jobs = {j.job_id: j for j in snap.jobs}
        by_node: defaultdict[int, list[JobKey]] = defaultdict(list)
        for j in snap.jobs:
            for n in j.nodes:
                by_node[n].append(JobKey.of(j, n))
        self._node_jobs = {n: tuple(keys) for n, keys in by_node.items()}

    def render(self, snap: FleetSnapshot, node: int) -> str:
        with self._lock:
            self._use_snapshot(snap)
            text = self._texts.get(node) if self.cache else None
            if text is not None:
                return text
            started = time.perf_counter()
            lay = self.layout(snap.topology, node, self._node_jobs.get(node, ()),
                              snap.state.node_generation)
            text = lay.template % sample_values(fill(snap, lay, self._jobs))
            if self.cache:
                self._remember(node, text)
            self.last_render_s = time.perf_counter() - started
            self.renders += 1
            return text

    def _remember(self, node: int, text: str) -> None:
        self._texts[node] = text
        self._cached_bytes += len(text)
        while self._cached_bytes > self.max_bytes and len(self._texts) > 1:
            oldest = next(iter(self._texts))
            self._cached_bytes -= len(self._texts.pop(oldest))

    def prepare(self, snap: FleetSnapshot, node: int) -> tuple[NodeLayout, dict[int, JobView]]:
        """The node's layout for this snapshot, and the snapshot's jobs by id."""
        with self._lock:
            self._use_snapshot(snap)
            return self.layout(snap.topology, node, self._node_jobs.get(node, ()),
                               snap.state.node_generation), self._jobs

    def series(self, snap: FleetSnapshot, node: int) -> int:
        return self.prepare(snap, node)[0].series


_DEFAULT = NodeRenderer()


def render_node(snap: FleetSnapshot, node: int) -> str:
    """One node's exposition (cached per snapshot by the module's shared renderer)."""
    return _DEFAULT.render(snap, node)


def render_self_metrics(snap: FleetSnapshot, renderer: NodeRenderer | None = None) -> str:
    """The daemon's own metrics: tick and render durations, fleet size, and the fleet's
    series (`FLEET_METRICS`: scheduler, goodput, cost, lost work)."""
    r = renderer or _DEFAULT
    topo = snap.topology
    values = {
        "trnmon_tick_duration_seconds": sample_text(float(snap.tick_duration_s)),
        "trnmon_render_duration_seconds": sample_text(float(r.last_render_s)),
        "trnmon_emulated_chips": str(topo.n_chips),
        "trnmon_emulated_nodes": str(topo.n_nodes),
        "trnmon_tick": str(snap.tick),
    }
    return "".join(f"{_head(m.name)}{m.name} {values[m.name]}\n" for m in SELF_METRICS) + (
        _scheduler(snap) + _cost(snap) + _replacements(snap))


def _head(name: str) -> str:
    """A family's HELP and TYPE lines, from its catalog declaration."""
    m = BY_NAME[name]
    return f"# HELP {m.name} {m.help}\n# TYPE {m.name} {m.exposition_type}\n"


def _grid(name: str, rows: Sequence[Sequence[float]], labels: tuple[str, str],
          firsts: Sequence[str], seconds: Sequence[str]) -> list[str]:
    """One series per (row label, column label) of a 2-D table, row-major."""
    a, b = labels
    return [_head(name)] + [f'{name}{{{a}="{x}",{b}="{y}"}} {sample_text(v)}\n'
                            for x, row in zip(firsts, rows, strict=True)
                            for y, v in zip(seconds, row, strict=True)]


def _replacements(snap: FleetSnapshot) -> str:
    """Nodes drained and replaced by a new instance, by instance family."""
    name = "neuron_node_replacements_total"
    return _head(name) + "".join(f'{name}{{instance_family="{fam}"}} {n}\n'
                                 for fam, n in snap.replacements_by_family().items())


def _cost(snap: FleetSnapshot) -> str:
    """What the fleet's capacity costs, by instance family and capacity state, and what
    the work interruptions threw away cost, by family and cause."""
    cv, sv = snap.cost, snap.scheduler
    fam = ("instance_family", "state")
    out = _grid("neuron_fleet_capacity_cost_dollars_total", cv.dollars, fam, cv.families,
                cv.states)
    out += _grid("neuron_fleet_capacity_cost_dollars_per_hour", cv.burn_per_hour, fam,
                 cv.families, cv.states)
    out += [_head("neuron_fleet_pricing_info"),
            f'neuron_fleet_pricing_info{{currency="{cv.currency}"}} 1\n']
    if sv.lost:
        cause = ("instance_family", "cause")
        out += _grid("neuron_fleet_lost_chip_seconds_total", sv.lost, cause,
                     sv.lost_families, CAUSE_NAMES)
    if cv.lost_dollars:
        out += _grid("neuron_fleet_lost_cost_dollars_total", cv.lost_dollars,
                     ("instance_family", "cause"), cv.families, CAUSE_NAMES)
    return "".join(out)


def _scheduler(snap: FleetSnapshot) -> str:
    """The fleet scheduler's metrics: queue by family, waits, admission, goodput."""
    sv = snap.scheduler
    out = [_head("neuron_fleet_queue_jobs")]
    out += [f'neuron_fleet_queue_jobs{{instance_family="{f}"}} {n}\n'
            for f, n in sv.queue_by_family]
    out.append(_head("neuron_fleet_queue_wait_seconds"))
    cum = 0.0
    for le, n in zip((*WAIT_BUCKETS_S, math.inf), sv.wait_hist, strict=False):
        cum += n
        out.append(f'neuron_fleet_queue_wait_seconds_bucket{{le="{sample_text(le)}"}} '
                   f"{sample_text(cum)}\n")
    out.append(f"neuron_fleet_queue_wait_seconds_sum {sample_text(sv.wait_sum)}\n"
               f"neuron_fleet_queue_wait_seconds_count {sv.placements}\n")
    out.append(f"{_head('neuron_fleet_rejected_arrivals_total')}"
               f"neuron_fleet_rejected_arrivals_total {sv.rejected}\n")
    out.append(f"{_head('neuron_fleet_placements_total')}"
               f"neuron_fleet_placements_total {sv.placements}\n")
    # zip(strict=False): a snapshot without goodput rows renders the family's head only.
    out.append(_head("neuron_fleet_goodput_chip_seconds_total"))
    for cls, row in zip(("training", "serving"), sv.goodput, strict=False):
        out += [f'neuron_fleet_goodput_chip_seconds_total{{job_class="{cls}",state="{k}"}} '
                f"{sample_text(v)}\n" for k, v in zip(GOODPUT_STATES, row, strict=True)]
    if sv.goodput:
        ett = effective_training_time(np.array(sv.goodput))
        out.append(f"{_head('neuron_fleet_effective_training_time_ratio')}"
                   f"neuron_fleet_effective_training_time_ratio {sample_text(ett)}\n")
    return "".join(out)
