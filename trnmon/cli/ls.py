"""`trnmon ls`: neuron-ls for an emulated node, and a one-line-per-node fleet listing.

Output follows AWS's neuron-ls documentation (tools/neuron-sys-tools/neuron-ls.rst, reference
§8): column headers wrap over two centred lines ("NEURON" / "DEVICE"), cells are
left-aligned; the default table has core ids, CPU affinity and NUMA node; `-w/--wide`
and `-a/--show-all-procs` add PID, COMMAND and RUNTIME VERSION (commands cut to 80 and 40
characters, `-a` also lists non-runtime processes, here `trnmon ls` itself, and rules off
each device); `-t/--topology` prints the narrow table and the `[ 0 ]` device grid;
`-j/--json-output` the JSON list, with `numa_node` as a string as neuron-ls writes it.

Processes are the runtime processes of the jobs on the node when the fleet starts (what
`trnmon monitor` reports for it): `NodeDetail.processes`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from trnmon.api.models import ProcessModel
from trnmon.api.views import node_detail
from trnmon.cli.args import SubParsers, add_fleet_args, fleet_config, resolve_node
from trnmon.hw.catalog import LinkTopology
from trnmon.sim import Engine
from trnmon.snapshot import FleetSnapshot
from trnmon.topology import Topology, build_topology
from trnmon.topology.neuronlink import GRID

WIDE_COMMAND, PROCS_COMMAND = 80, 40  # neuron-ls's COMMAND widths (-w; -a and -j)
NO_RUNTIME = "NA"  # RUNTIME VERSION of a process that is not a Neuron runtime


def _ranges(ids: list[int]) -> str:
    return f"{ids[0]}-{ids[-1]}" if len(ids) > 1 else str(ids[0])


def cut(command: str, width: int) -> str:
    """neuron-ls shortens a long command to `width` characters ending in "..."."""
    return command if len(command) <= width else command[:width - 3] + "..."


Proc = tuple[int, str, str]  # pid, command, runtime version


def device_processes(processes: Sequence[ProcessModel]) -> dict[int, list[Proc]]:
    """Device -> the runtime processes using it, by pid."""
    out: dict[int, list[Proc]] = {}
    for p in processes:
        for dev in p.devices:
            out.setdefault(dev, []).append((p.pid, p.command, p.runtime_version))
    for procs in out.values():
        procs.sort()
    return out


def device_rows(topo: Topology, node: int, procs: dict[int, list[Proc]] | None = None
                ) -> list[dict[str, Any]]:
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
            "numa_node": str(numa),  # neuron-ls writes it as a string ("1", "-1")
            "connected_to": topo.connected_devices(chip),
            "nc_count": numbering.logical_per_chip,
            "logical_neuroncore_config": numbering.lnc,
            "memory_size": itype.chip_spec.hbm_bytes,
            "neuroncore_ids": list(numbering.logical_ids(local)),
            "neuron_processes": [
                {"pid": pid, "command": cut(cmd, PROCS_COMMAND),
                 "neuron_runtime_version": version}
                for pid, cmd, version in (procs or {}).get(local, [])],
        })
    return rows


def _table(headers: list[str], groups: list[list[list[str]]], *, rule_groups: bool) -> str:
    """neuron-ls's table: two centred header lines per column (split at the first
    space), left-aligned cells; `groups` are a device's rows, ruled off if asked."""
    heads = [(h.partition(" ")[0], h.partition(" ")[2]) for h in headers]
    rows = [r for g in groups for r in g]
    widths = [max(len(a), len(b), *(len(r[i]) for r in rows))
              for i, (a, b) in enumerate(heads)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def centre(text: str, width: int) -> str:  # an odd spare space goes right, as AWS's
        left = (width - len(text)) // 2
        return (" " * left + text).ljust(width)

    def line(cells: list[str], centred: bool = False) -> str:
        return "|" + "|".join(f" {centre(c, w) if centred else c.ljust(w)} "
                              for c, w in zip(cells, widths, strict=True)) + "|"

    out = [sep, line([a for a, _ in heads], True), line([b for _, b in heads], True), sep]
    for g in groups:
        out += [line(r) for r in g]
        if rule_groups:
            out.append(sep)
    if not rule_groups:
        out.append(sep)
    return "\n".join(out)


def header_lines(topo: Topology, node: int) -> list[str]:
    itype = topo.instance_type(node)
    out = [f"instance-type: {itype.name}", f"instance-id: {topo.instance_id(node)}"]
    if itype.chip_spec.supports_lnc:
        out.append(f"logical-neuroncore-config: {topo.lnc}")
    return out


def render_node(topo: Topology, node: int, *, topology: bool = False, wide: bool = False,
                all_procs: bool = False, procs: dict[int, list[Proc]] | None = None) -> str:
    out = header_lines(topo, node)
    rows = device_rows(topo, node)
    procs = procs or {}
    if topology:
        headers = ["NEURON DEVICE", "NEURON CORES", "NEURON MEMORY", "CONNECTED DEVICES",
                   "PCI BDF"]
        groups = [[[str(r["neuron_device"]), str(r["nc_count"]), f"{r['memory_size'] >> 30} GB",
                    ", ".join(map(str, r["connected_to"])), r["bdf"]]] for r in rows]
        out.append(_table(headers, groups, rule_groups=False))
        out += ["", "", render_topology(topo, node)]
    elif wide or all_procs:
        width = WIDE_COMMAND if wide else PROCS_COMMAND
        headers = ["NEURON DEVICE", "NEURON CORES", "NEURON MEMORY", "CONNECTED DEVICES",
                   "PCI BDF", "PID", "COMMAND", "RUNTIME VERSION"]
        groups = []
        for r in rows:
            dev = [str(r["neuron_device"]), str(r["nc_count"]), f"{r['memory_size'] >> 30} GB",
                   ", ".join(map(str, r["connected_to"])), r["bdf"]]
            mine = procs.get(r["neuron_device"], [])
            if not all_procs:
                mine = [p for p in mine if p[2] != NO_RUNTIME]
            lines = [(dev if i == 0 else [""] * len(dev))
                     + [str(pid), cut(cmd, width), version]
                     for i, (pid, cmd, version) in enumerate(mine)]
            groups.append(lines or [[*dev, "", "", ""]])
        out.append(_table(headers, groups, rule_groups=all_procs))
    else:
        headers = ["NEURON DEVICE", "NEURON CORES", "NEURON CORE IDS", "NEURON MEMORY",
                   "CONNECTED DEVICES", "PCI BDF", "CPU AFFINITY", "NUMA NODE"]
        groups = [[[str(r["neuron_device"]), str(r["nc_count"]), _ranges(r["neuroncore_ids"]),
                    f"{r['memory_size'] >> 30} GB", ", ".join(map(str, r["connected_to"])),
                    "0000:" + r["bdf"], r["cpu_affinity"], r["numa_node"]]] for r in rows]
        out.append(_table(headers, groups, rule_groups=False))
    return "\n".join(out)


def _grid_marks(ch: str, cells: int) -> str:
    """A row of `ch` under each `[ n ]` cell's centre, padded to the grid's width."""
    width = 4 + 5 * cells + 4 * (cells - 1) + 4
    return "".join(" " * (6 if c == 0 else 8) + ch for c in range(cells)).ljust(width)


def render_topology(topo: Topology, node: int) -> str:
    """neuron-ls's "Neuron Device Topology" grid: `[ n ]` cells joined by `◄––►`, rows and
    columns closed by `*––►` wrap-around marks (a ring for inf2)."""
    itype = topo.instance_type(node)
    lines = ["Neuron Device Topology"]
    if itype.link_topology == LinkTopology.TORUS_4X4:
        lines.append(_grid_marks("*", GRID))
        for row in range(GRID):
            lines += [_grid_marks("│", GRID), _grid_marks("▼", GRID)]
            cells = "◄––►".join(f"[{row * GRID + c:^3}]" for c in range(GRID))
            lines.append(f"*––►{cells}◄––*")
            lines.append(_grid_marks("▲", GRID))
        lines += [_grid_marks("│", GRID), _grid_marks("*", GRID)]
    else:
        cells = "◄––►".join(f"[{d:^3}]" for d in range(itype.chips))
        lines.append(f"*––►{cells}◄––*")
    lines += ["", "Legend:", "", "        *––► = Wrap-around link"]
    us = int(topo.node_ultraserver[node])
    if us >= 0:
        first = int(topo.ultraserver_node_start[us])
        members = ", ".join(topo.instance_id(first + k) for k in range(4))
        lines += ["", f"UltraServer {topo.ultraserver_label(us)}: devices at the same "
                      f"position form a ring across {members} (4x4x4 torus, 6 links per "
                      "device)"]
    return "\n".join(lines)


def render_json(topo: Topology, node: int, procs: dict[int, list[Proc]] | None = None) -> str:
    return json.dumps(device_rows(topo, node, procs), indent=4)


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


def node_processes(processes: Sequence[ProcessModel], devices: int, *, all_procs: bool,
                   argv: Sequence[str] | None = None) -> dict[int, list[Proc]]:
    """Device -> processes; with `all_procs`, this process itself on every device (as
    neuron-ls lists itself under -a, runtime version NA), with its own command line."""
    out = device_processes(processes)
    if all_procs:
        words = list(sys.argv if argv is None else argv)
        words[:1] = [os.path.basename(words[0])] if words else []
        me = (os.getpid(), " ".join(words), NO_RUNTIME)
        for dev in range(devices):
            out.setdefault(dev, []).append(me)
    return out


def render(args: argparse.Namespace, topo: Topology, node: int,
           processes: Sequence[ProcessModel]) -> str:
    """The text `trnmon ls` prints for one node."""
    procs = node_processes(processes, len(topo.node_chips(node)),
                           all_procs=args.show_all_procs)
    if args.json:
        return render_json(topo, node, procs)
    return render_node(topo, node, topology=args.topology, wide=args.wide,
                       all_procs=args.show_all_procs, procs=procs)


def run(args: argparse.Namespace) -> int:
    config = fleet_config(args)
    topo = build_topology(config)
    if args.fleet:
        write_fleet(topo, sys.stdout, header=fleet_header_wanted())
        return 0
    node = resolve_node(topo, args.node)
    # The node's runtime processes as the fleet starts (what `trnmon monitor` shows).
    snap = FleetSnapshot.capture(Engine(config, topology=topo))
    print(render(args, topo, node, node_detail(snap, node).processes))
    return 0


def register(sub: SubParsers) -> None:
    p = sub.add_parser("ls", help="neuron-ls for an emulated node, or list the fleet")
    add_fleet_args(p)
    p.add_argument("--node", metavar="ID", help="instance id or node index (default: first)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("-t", "--topology", action="store_true", help="draw the NeuronLink grid")
    mode.add_argument("-j", "--json-output", "--json", dest="json", action="store_true",
                      help="neuron-ls -j JSON")
    mode.add_argument("--fleet", action="store_true", help="one line per node")
    p.add_argument("-w", "--wide", action="store_true",
                   help="neuron-ls --wide: PID, COMMAND, RUNTIME VERSION columns")
    p.add_argument("-a", "--show-all-procs", action="store_true",
                   help="every process on each device, not only Neuron runtimes")
    p.set_defaults(handler=run)
