"""`trnmon ls`: neuron-ls for an emulated node, and a one-line-per-node fleet listing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from trnmon.cli.args import SubParsers, add_fleet_args, fleet_config, resolve_node
from trnmon.hw.catalog import LinkTopology
from trnmon.topology import Topology, build_topology
from trnmon.topology.neuronlink import GRID


def _ranges(ids: list[int]) -> str:
    return f"{ids[0]}-{ids[-1]}" if len(ids) > 1 else str(ids[0])


def device_rows(topo: Topology, node: int) -> list[dict[str, Any]]:
    """One dict per device with the keys of AWS's `neuron-ls -j` (reference §8)."""
    itype = topo.instance_type(node)
    numbering = topo.numbering(node)
    rows = []
    for chip in topo.node_chips(node):
        local = int(topo.chip_local[chip])
        numa = itype.numa_of_device[local]
        rows.append({
            "neuron_device": local,
            "bdf": topo.pci_bdf(local)[5:],
            "cpu_affinity": itype.cpu_affinity[numa],
            "numa_node": numa,
            "connected_to": topo.connected_devices(chip),
            "nc_count": numbering.logical_per_chip,
            "logical_neuroncore_config": numbering.lnc,
            "memory_size": itype.chip_spec.hbm_bytes,
            "neuroncore_ids": list(numbering.logical_ids(local)),
            "neuron_processes": [],
        })
    return rows


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    def line(cells: list[str]) -> str:
        return "|" + "|".join(f" {c:<{w}} " for c, w in zip(cells, widths, strict=True)) + "|"
    return "\n".join([sep, line(headers), sep, *(line(r) for r in rows), sep])


def render_node(topo: Topology, node: int, *, topology: bool = False) -> str:
    itype = topo.instance_type(node)
    out = [f"instance-type: {itype.name}", f"instance-id: {topo.instance_id(node)}"]
    if itype.chip_spec.supports_lnc:
        out.append(f"logical-neuroncore-config: {topo.lnc}")
    rows = device_rows(topo, node)
    headers = ["NEURON DEVICE", "NEURON CORES", "NEURON CORE IDS", "NEURON MEMORY",
               "CONNECTED DEVICES", "PCI BDF", "CPU AFFINITY", "NUMA NODE"]
    cells = [[
        str(r["neuron_device"]), str(r["nc_count"]), _ranges(r["neuroncore_ids"]),
        f"{r['memory_size'] >> 30} GB", ", ".join(map(str, r["connected_to"])),
        "0000:" + r["bdf"], r["cpu_affinity"], str(r["numa_node"]),
    ] for r in rows]
    out.append(_table(headers, cells))
    if topology:
        out.append("")
        out.append(render_topology(topo, node))
    return "\n".join(out)


def render_topology(topo: Topology, node: int) -> str:
    itype = topo.instance_type(node)
    n = itype.chips
    lines = ["Neuron Device Topology"]
    if itype.link_topology == LinkTopology.TORUS_4X4:
        # Cells are "[nn]" joined by "◄––►": cell c spans columns 4+8c .. 7+8c.
        def marks(ch: str) -> str:
            return "".join(" " * (5 if c == 0 else 7) + ch for c in range(GRID))
        lines.append(marks("*"))
        for row in range(GRID):
            lines.append(marks("│"))
            lines.append(marks("▼"))
            cells = "◄––►".join(f"[{row * GRID + c:>2}]" for c in range(GRID))
            lines.append(f"*––►{cells}◄––*")
            lines.append(marks("▲"))
        lines.append(marks("│"))
        lines.append(marks("*"))
        lines.append("")
        lines.append("Legend:")
        lines.append("        *––► = Wrap-around link (each row and column is a ring)")
    else:
        cells = "◄––►".join(f"[{d}]" for d in range(n))
        lines.append(f"*––►{cells}◄––*")
        lines.append("")
        lines.append("Legend:")
        lines.append("        *––► = Wrap-around link (one ring over all devices)")
    us = int(topo.node_ultraserver[node])
    if us >= 0:
        first = int(topo.ultraserver_node_start[us])
        members = ", ".join(topo.instance_id(first + k) for k in range(4))
        lines.append(f"UltraServer {topo.ultraserver_label(us)}: devices at the same position "
                     f"form a ring across {members} (4x4x4 torus, 6 links per device)")
    return "\n".join(lines)


def render_json(topo: Topology, node: int) -> str:
    return json.dumps(device_rows(topo, node), indent=2)


FLEET_COLUMNS = ("INSTANCE ID", "INSTANCE TYPE", "AVAILABILITY ZONE", "RACK",
                 "ULTRASERVER", "DEVICES")


def write_fleet(topo: Topology, out: TextIO, *, header: bool) -> None:
    """One line per node, tab-separated; written in blocks so 31k nodes take well under 1 s."""
    if header:
        out.write("\t".join(FLEET_COLUMNS) + "\n")
    counts = topo.chip_count_per_node
    rack_labels = [topo.rack_label(r) for r in range(topo.n_racks)]
    # Standalone nodes have UltraServer -1, which indexes the trailing "-".
    us_labels = [topo.ultraserver_label(u) for u in range(topo.n_ultraservers)] + ["-"]
    ids = topo.instance_ids
    block: list[str] = []
    for node in range(topo.n_nodes):
        rack = int(topo.node_rack[node])
        block.append("\t".join((
            ids[node], topo.instance_type(node).name,
            topo.az_names[topo.rack_az[rack]], rack_labels[rack],
            us_labels[int(topo.node_ultraserver[node])], str(int(counts[node])),
        )))
        if len(block) >= 4096:
            out.write("\n".join(block) + "\n")
            block.clear()
    if block:
        out.write("\n".join(block) + "\n")


def fleet_header_wanted(out: TextIO | None = None) -> bool:
    """A header for people, none for pipes, so `trnmon ls --fleet | wc -l` counts nodes."""
    return (out or sys.stdout).isatty()


def run(args: argparse.Namespace) -> int:
    topo = build_topology(fleet_config(args))
    if args.fleet:
        write_fleet(topo, sys.stdout, header=fleet_header_wanted())
        return 0
    node = resolve_node(topo, args.node)
    text = render_json(topo, node) if args.json else render_node(
        topo, node, topology=args.topology)
    print(text)
    return 0


def register(sub: SubParsers) -> None:
    p = sub.add_parser("ls", help="neuron-ls for an emulated node, or list the fleet")
    add_fleet_args(p)
    p.add_argument("--node", metavar="ID", help="instance id or node index (default: first)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("-t", "--topology", action="store_true", help="draw the NeuronLink grid")
    mode.add_argument("-j", "--json", action="store_true", help="neuron-ls -j JSON")
    mode.add_argument("--fleet", action="store_true", help="one line per node")
    p.set_defaults(handler=run)
