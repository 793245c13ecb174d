"""Per-node exposition layout: every series' label text, computed once per node.

A layout is one ``%``-format template holding the HELP/TYPE lines and every series'
``name{labels} `` prefix, with one placeholder per value, in catalog order. Rendering a
tick is then one numpy pass that fills a flat value buffer, ``tolist()`` and a single
``template % values``: no per-series Python work beyond the C formatter.

A layout depends only on the topology, the node, and which jobs are on the node (job
labels and ``runtime_tag``), so it is cached per (topology, node, jobs) and rebuilt only
when a node's job changes.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trnmon.exporter.catalog import CATALOG, Metric
from trnmon.hw.catalog import efa_device_name
from trnmon.snapshot import FleetSnapshot, JobView
from trnmon.topology import PORT_NAMES, Topology

IDLE_RUNTIME_TAG = "none"
SERVING_KINDS = frozenset({"inference", "batch_inference"})


@dataclass(frozen=True, slots=True)
class JobKey:
    """What a node's layout needs to know about a job; stable while the job runs."""

    job_id: int
    name: str
    kind: str
    model: str
    leader: bool  # this node is the job's first node and exports its rates

    @property
    def serving(self) -> bool:
        """An inference or batch-inference job: it has TTFT and inter-token latency."""
        return self.kind in SERVING_KINDS

    @classmethod
    def of(cls, job: JobView, node: int) -> JobKey:
        return cls(job.job_id, job.name, job.kind, job.model, job.nodes[0] == node)


def node_jobs(snap: FleetSnapshot, node: int) -> tuple[JobKey, ...]:
    return tuple(JobKey.of(j, node) for j in snap.jobs if node in j.nodes)


def escape(value: str) -> str:
    """Label value escaping of the text format (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def subnet_id(topo: Topology, az: int) -> str:
    digest = hashlib.blake2b(f"{topo.region}/{topo.fleet_name}/{az}".encode(),
                             digest_size=9).hexdigest()
    return f"subnet-{digest[:17]}"


@dataclass(frozen=True, eq=False)
class NodeLayout:
    node: int
    chips: slice
    lnc: int  # physical cores per logical core
    logical_per_chip: int
    physical_per_chip: int
    link_index: npt.NDArray[np.intp]  # flat (chip - start) * MAX_PORTS + port of valid ports
    jobs: tuple[JobKey, ...]
    efa_devices: int  # EFA devices of the node (its first efa_devices slots)
    # Nodes whose instance ids the labels name (the node, its NeuronLink peers) and their
    # replacement counts when built: a replacement there renames them.
    ref_nodes: npt.NDArray[np.intp]
    generations: tuple[int, ...]
    counts: dict[str, int]  # series per metric, in catalog order
    template: str
    series: int


def scope_items(m: Metric, topo: Topology, node: int, jobs: tuple[JobKey, ...],
                 link_chip: npt.NDArray[np.intp], link_port: npt.NDArray[np.intp],
                 instance_id: Callable[[int], str] | None = None,
                 ) -> Iterator[dict[str, str]]:
    iid = instance_id or topo.instance_id
    numbering = topo.numbering(node)
    chips = topo.node_chips(node)
    if m.scope == "node":
        yield {}
    elif m.scope == "device":
        for chip in chips:
            local = str(int(topo.chip_local[chip]))
            yield {"neuron_device": local, "neuron_device_index": local}
    elif m.scope == "core":
        for chip in chips:
            dev = int(topo.chip_local[chip])
            for core in numbering.logical_ids(dev):
                yield {"neuroncore": str(core), "neuron_device": str(dev)}
    elif m.scope == "link":
        for chip, port in zip(link_chip.tolist(), link_port.tolist(), strict=True):
            peer = int(topo.port_peer[chip, port])
            yield {"neuron_device": str(int(topo.chip_local[chip])), "link": PORT_NAMES[port],
                   "peer_device": str(int(topo.chip_local[peer])),
                   "peer_instance_id": iid(int(topo.chip_node[peer]))}
    elif m.scope == "efa":
        for i in range(int(topo.node_efa_devices[node])):
            yield {"efa_device": efa_device_name(i)}
    else:
        for job in jobs:
            if m.scope == "serving_leader" and not job.serving:
                continue
            if m.scope == "job" or job.leader:
                yield {"job_id": str(job.job_id), "job_name": job.name, "job_kind": job.kind,
                       "model": job.model}


def node_context(topo: Topology, node: int, jobs: tuple[JobKey, ...],
                 instance_id: str | None = None) -> dict[str, str]:
    """Labels constant over a node: AWS base labels, runtime tag, hardware info
    (`instance_id`: the node's current one, after replacements)."""
    az = int(topo.node_az[node])
    itype = topo.instance_type(node)
    return {
        "instance_name": f"{topo.fleet_name}-{node:05d}",
        "instance_id": instance_id or topo.instance_id(node),
        "instance_type": itype.name,
        "availability_zone": topo.az_names[az],
        "region": topo.region,
        "subnet_id": subnet_id(topo, az),
        # The job's name stands in for NEURON_PROCESS_TAG: stable while the job runs.
        "runtime_tag": jobs[0].name if jobs else IDLE_RUNTIME_TAG,
        "neuron_device_count": str(itype.chips),
        "neuroncore_per_device_count": str(topo.numbering(node).logical_per_chip),
    }


def _labels(items: list[tuple[str, str]]) -> str:
    return ",".join(f'{k}="{escape(v)}"' for k, v in items)


def _pct(text: str) -> str:
    return text.replace("%", "%%")


def _comma(text: str) -> str:
    return "," + text if text else ""


ScopeItems = Callable[[Metric, tuple[str, ...]], list[dict[str, str]]]


def build_template(metrics: Iterable[Metric], ctx: dict[str, str], items: ScopeItems
                   ) -> tuple[str, dict[str, int]]:
    """The exposition template of `metrics` and their series counts.

    Label text is assembled per metric as node part (labels found in `ctx`) + scope item
    part (`items(metric, scope_labels)`: one dict per series group) + enum part +
    constant part (the catalog declares labels in that order), so each series costs one
    string concatenation rather than a dict merge."""
    scope_cache: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    parts: list[str] = []
    counts: dict[str, int] = {}
    for m in metrics:
        help_text = m.help.replace("\\", "\\\\").replace("\n", "\\n")
        parts.append(f"# HELP {m.name} {help_text}\n# TYPE {m.name} {m.exposition_type}\n")
        enum_names = {name for name, _ in m.enums}
        const = dict(m.const)
        node_part = [k for k in m.label_names if k in ctx]
        scope_part = tuple(k for k in m.label_names
                           if k not in ctx and k not in enum_names and k not in const)
        order = node_part + list(scope_part) + [n for n, _ in m.enums] + list(const)
        assert order == list(m.label_names), f"{m.name}: labels out of layout order"
        key = (m.scope, scope_part)
        if key not in scope_cache:
            scope_cache[key] = [_labels([(k, item[k]) for k in scope_part])
                                for item in items(m, scope_part)]
        scope_texts = scope_cache[key]
        enum_texts = [_labels(list(zip([n for n, _ in m.enums], combo, strict=True)))
                      for combo in itertools.product(*(v for _, v in m.enums))]
        # Every part after the head carries its leading comma; `cut` drops the first comma
        # when the metric has no node labels. `%` is doubled once per part, not per line.
        head = _pct(_labels([(k, ctx[k]) for k in node_part]))
        tail = _comma(_pct(_labels(list(const.items()))))
        scopes = [_comma(_pct(t)) for t in scope_texts]
        enums = [_comma(_pct(t)) for t in enum_texts]
        cut = 0 if head else 1
        prefix = m.name + "{"
        end = "} %s\n"  # filled by `trnmon.exporter.samples.sample_values`
        lines = [prefix + (head + s_text + e_text + tail)[cut:] + end
                 for s_text in scopes for e_text in enums]
        parts.extend(lines)
        counts[m.name] = len(lines)
    return "".join(parts), counts


def build_layout(topo: Topology, node: int, jobs: tuple[JobKey, ...],
                 generation: npt.NDArray[np.int32] | None = None) -> NodeLayout:
    """The node's layout; `generation` (per node replacement counts, from the snapshot)
    names replaced nodes by their current instance ids."""
    numbering = topo.numbering(node)
    chips = topo.node_chips(node)
    valid = topo.port_valid[chips.start:chips.stop]
    link_chip_local, link_port = np.nonzero(valid)
    link_chip = link_chip_local + chips.start
    ref_nodes = np.unique(np.r_[node, topo.chip_node[topo.port_peer[link_chip, link_port]]]
                          ).astype(np.intp)
    gen = np.zeros(topo.n_nodes, dtype=np.int32) if generation is None else generation

    def iid(n: int) -> str:
        return topo.instance_id(n, int(gen[n]))

    def items(m: Metric, scope_part: tuple[str, ...]) -> list[dict[str, str]]:
        return list(scope_items(m, topo, node, jobs, link_chip, link_port, iid))

    template, counts = build_template(CATALOG, node_context(topo, node, jobs, iid(node)),
                                      items)
    return NodeLayout(
        node=node, chips=slice(chips.start, chips.stop), lnc=numbering.lnc,
        logical_per_chip=numbering.logical_per_chip,
        physical_per_chip=numbering.logical_per_chip * numbering.lnc,
        link_index=(link_chip_local * valid.shape[1] + link_port).astype(np.intp),
        jobs=jobs, efa_devices=int(topo.node_efa_devices[node]), ref_nodes=ref_nodes,
        generations=tuple(gen[ref_nodes].tolist()), counts=counts, template=template,
        series=sum(counts.values()))


def expected_series(topo: Topology, node: int, jobs: int = 0, leads: int = 0,
                    serving_leads: int = 0) -> int:
    """Series count of a node from the catalog and topology alone (cardinality budget):
    `jobs` running on it, `leads` of which it leads, `serving_leads` of those serving."""
    chips = len(topo.node_chips(node))
    per = {"node": 1, "device": chips,
           "core": chips * topo.numbering(node).logical_per_chip,
           "link": int(topo.port_valid[topo.node_chips(node).start:
                                       topo.node_chips(node).stop].sum()),
           "efa": int(topo.node_efa_devices[node]),
           "job": jobs, "job_leader": leads, "serving_leader": serving_leads, "daemon": 0}
    return sum(per[m.scope] * m.enum_size for m in CATALOG)
