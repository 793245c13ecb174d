from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from trnmon.cli import main


def test_ls_topology_shows_device_0_links(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "ohio", "--topology"]) == 0
    out = capsys.readouterr().out
    assert "instance-type: trn2u.48xlarge" in out
    assert "logical-neuroncore-config: 2" in out
    row0 = next(line for line in out.splitlines() if line.startswith("| 0 "))
    assert "12, 3, 4, 1" in row0 and "96 GB" in row0 and "cc:00.0" in row0
    assert "*––►[ 0 ]◄––►[ 1 ]◄––►[ 2 ]◄––►[ 3 ]◄––*" in out
    assert "Neuron Device Topology" in out


def test_ls_json_has_neuron_ls_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "ohio", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc) == 16
    keys = {"neuron_device", "bdf", "cpu_affinity", "numa_node", "connected_to", "nc_count",
            "logical_neuroncore_config", "memory_size", "neuroncore_ids", "neuron_processes"}
    assert set(doc[0]) == keys
    assert doc[0]["connected_to"] == [12, 3, 4, 1] and doc[0]["memory_size"] == 103079215104
    assert doc[4]["neuroncore_ids"] == [16, 17, 18, 19] and doc[4]["numa_node"] == "0"


def test_ls_lnc1_numbering(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "ultraserver", "--lnc", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc[1]["nc_count"] == 8 and doc[1]["neuroncore_ids"] == list(range(8, 16))
    assert doc[1]["logical_neuroncore_config"] == 1


def test_ls_inf2_and_trn1_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "tiny", "--node", "5", "--topology"]) == 0
    out = capsys.readouterr().out
    assert "inf2.48xlarge" in out and "logical-neuroncore-config" not in out
    assert "[11 ]◄––*" in out
    assert main(["ls", "--preset", "tiny", "--node", "4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc[0]["nc_count"] == 2 and doc[0]["memory_size"] == 32 << 30


def test_ls_node_by_instance_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "tiny", "--fleet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6  # no header when not on a terminal
    iid = lines[4].split("\t")[0]
    assert main(["ls", "--preset", "tiny", "--node", iid]) == 0
    assert f"instance-id: {iid}" in capsys.readouterr().out


def test_ls_fleet_rainier_counts_nodes() -> None:
    r = subprocess.run([sys.executable, "-m", "trnmon", "ls", "--preset", "rainier-500k",
                        "--fleet"], capture_output=True, text=True, check=True)
    lines = r.stdout.splitlines()
    assert len(lines) == 31_250
    assert sum(int(line.rsplit("\t", 1)[1]) for line in lines) == 500_000


# AWS's neuron-ls documentation (tools/neuron-sys-tools/neuron-ls.rst) for a Trn2 host:
# the two-line centred header of the default table, and the --topology table and grid.
AWS_DEFAULT_HEADER = """\
+--------+--------+----------+--------+---------------+--------------+---------------+------+
| NEURON | NEURON |  NEURON  | NEURON |   CONNECTED   |     PCI      |      CPU      | NUMA |
| DEVICE | CORES  | CORE IDS | MEMORY |    DEVICES    |     BDF      |   AFFINITY    | NODE |
+--------+--------+----------+--------+---------------+--------------+---------------+------+
| 0      | 4      | 0-3      | 96 GB  | 12, 3, 4, 1   | 0000:cc:00.0 | 48-95,144-191 | 1    |
| 1      | 4      | 4-7      | 96 GB  | 13, 0, 5, 2   | 0000:b5:00.0 | 48-95,144-191 | 1    |"""
AWS_GRID_ROW = "*––►[ 8 ]◄––►[ 9 ]◄––►[10 ]◄––►[11 ]◄––*"
AWS_BDFS = ["cc", "b5", "b6", "cb", "6f", "58", "59", "6e", "9b", "84", "85", "9a", "f8",
            "e1", "e2", "f7"]


def test_ls_default_table_matches_aws_layout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "ohio"]) == 0
    out = capsys.readouterr().out
    assert AWS_DEFAULT_HEADER in out
    assert "PID" not in out  # the default table has no process columns (AWS's Trn2 example)


def test_ls_topology_is_awss_narrow_table_and_grid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "ohio", "--topology"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3:7] == ["+--------+--------+--------+---------------+---------+",
                          "| NEURON | NEURON | NEURON |   CONNECTED   |   PCI   |",
                          "| DEVICE | CORES  | MEMORY |    DEVICES    |   BDF   |",
                          "+--------+--------+--------+---------------+---------+"]
    assert lines[7] == "| 0      | 4      | 96 GB  | 12, 3, 4, 1   | cc:00.0 |"
    title = lines.index("Neuron Device Topology")
    assert lines[title - 2:title] == ["", ""]
    assert lines[title + 1] == "      *        *        *        *      "
    assert lines[title + 2:title + 4] == ["      │        │        │        │      ",
                                          "      ▼        ▼        ▼        ▼      "]
    assert AWS_GRID_ROW in lines
    legend = lines.index("Legend:")
    assert lines[legend + 1:legend + 3] == ["", "        *––► = Wrap-around link"]


def test_ls_trn2_bdfs_follow_aws_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "ohio", "-j"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["bdf"] for d in doc] == [f"{b}:00.0" for b in AWS_BDFS]


def test_ls_json_numa_is_a_string_and_processes_are_listed(
        capsys: pytest.CaptureFixture[str]) -> None:
    from trnmon.api.views import node_detail
    from trnmon.cli.args import fleet_config
    from trnmon.cli.main import build_parser
    from trnmon.sim import Engine
    from trnmon.snapshot import FleetSnapshot

    assert main(["ls", "--preset", "tiny", "--node", "3", "--json-output"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert all(isinstance(d["numa_node"], str) for d in doc)
    args = build_parser().parse_args(["ls", "--preset", "tiny"])
    detail = node_detail(FleetSnapshot.capture(Engine(fleet_config(args))), 3)
    proc = detail.processes[0]  # the job `trnmon monitor` reports on this node
    assert doc[0]["neuron_processes"] == [{
        "pid": proc.pid, "command": proc.command[:37] + "...",
        "neuron_runtime_version": proc.runtime_version}]
    assert len(proc.command) > 40


def test_ls_trn1_and_inf2_report_lnc_1(capsys: pytest.CaptureFixture[str]) -> None:
    for node in ("4", "5"):  # trn1.32xlarge, inf2.48xlarge
        assert main(["ls", "--preset", "tiny", "--node", node, "-j"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert {d["logical_neuroncore_config"] for d in doc} == {1}


def test_ls_wide_and_all_procs_show_process_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "tiny", "--node", "0", "-w"]) == 0
    wide = capsys.readouterr().out.splitlines()
    heads = [c.strip() for c in wide[4].split("|")[1:-1]]
    assert heads == ["NEURON", "NEURON", "NEURON", "CONNECTED", "PCI", "PID", "COMMAND",
                     "RUNTIME"]
    row0 = [c.strip() for c in wide[7].split("|")[1:-1]]
    assert row0[0] == "0" and row0[4] == "cc:00.0" and row0[5].isdigit()
    assert row0[6].startswith("torchrun ") and row0[7].startswith("2.")
    assert sum(1 for ln in wide if ln.startswith("+")) == 3  # devices are not ruled off
    assert main(["ls", "--preset", "tiny", "--node", "0", "--show-all-procs"]) == 0
    procs = capsys.readouterr().out.splitlines()
    me = [ln for ln in procs
          if ln.startswith("|") and ln.split("|")[6].strip() == str(os.getpid())]
    assert len(me) == 16 and all(ln.split("|")[-2].strip() == "NA" for ln in me)
    assert sum(1 for ln in procs if ln.startswith("+")) == 2 + 16  # header rules, one per device
    command = [c.strip() for c in procs[7].split("|")[1:-1]][6]
    assert len(command) == 40 and command.endswith("...")


def test_ls_shows_the_runtime_trnmon_monitor_reports() -> None:
    def run(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "trnmon", *args], capture_output=True,
                              text=True, check=True, timeout=60).stdout

    ls = json.loads(run("ls", "--preset", "tiny", "--node", "3", "-j"))
    report = json.loads(run("monitor", "--preset", "tiny", "--node", "3", "--count", "1",
                            "--speed", "1000").splitlines()[0])
    pids = {rt["pid"] for rt in report["neuron_runtime_data"]}
    assert pids and all({p["pid"] for p in d["neuron_processes"]} == pids for d in ls)
