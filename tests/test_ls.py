from __future__ import annotations

import json
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
    assert "12, 3, 4, 1" in row0 and "0-3" in row0 and "96 GB" in row0
    assert "*––►[ 0]◄––►[ 1]◄––►[ 2]◄––►[ 3]◄––*" in out
    assert "Neuron Device Topology" in out


def test_ls_json_has_neuron_ls_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "ohio", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc) == 16
    keys = {"neuron_device", "bdf", "cpu_affinity", "numa_node", "connected_to", "nc_count",
            "logical_neuroncore_config", "memory_size", "neuroncore_ids", "neuron_processes"}
    assert set(doc[0]) == keys
    assert doc[0]["connected_to"] == [12, 3, 4, 1] and doc[0]["memory_size"] == 103079215104
    assert doc[4]["neuroncore_ids"] == [16, 17, 18, 19] and doc[4]["numa_node"] == 0


def test_ls_lnc1_numbering(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "ultraserver", "--lnc", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc[1]["nc_count"] == 8 and doc[1]["neuroncore_ids"] == list(range(8, 16))
    assert doc[1]["logical_neuroncore_config"] == 1


def test_ls_inf2_and_trn1_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--preset", "tiny", "--node", "5", "--topology"]) == 0
    out = capsys.readouterr().out
    assert "inf2.48xlarge" in out and "logical-neuroncore-config" not in out
    assert "[11]◄––*" in out
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
