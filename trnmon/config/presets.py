"""Named fleets. Each preset is a plain dict so that files and env vars merge over it."""

from __future__ import annotations

from typing import Any

from trnmon.errors import ConfigError


def _az(index: int, region: str = "us-east-2", **nodes: int) -> dict[str, Any]:
    letter = "abcdefghij"[index]
    return {
        "name": f"{region}{letter}",
        "zone_id": f"use2-az{index + 1}",
        "nodes": nodes,
    }


PRESETS: dict[str, dict[str, Any]] = {
    # One UltraServer plus one trn1 and one inf2 node: 92 chips, 6 nodes.
    "tiny": {
        "name": "tiny",
        "availability_zones": [_az(0, ultraservers=1, trn1=1, inf2=1)],
        "workload": {"initial_fill": 1.0},
    },
    # A mixed Ohio datacenter over two AZs: 756 chips, 48 nodes.
    "ohio": {
        "name": "ohio",
        "availability_zones": [
            _az(0, ultraservers=5, trn2=4, trn1=2, inf2=1),
            _az(1, ultraservers=4, trn2=2, trn1=1, inf2=2),
        ],
    },
    "ultraserver": {
        "name": "ultraserver",
        "availability_zones": [_az(0, ultraservers=1)],
        "workload": {"initial_fill": 1.0},
    },
    # 625 UltraServers = 40,000 Trainium2 chips, 2,500 nodes, one AZ in two datacenters.
    "ultracluster-40k": {
        "name": "ultracluster-40k",
        "availability_zones": [{**_az(0, ultraservers=625), "datacenters": 2, "racks_per_row": 16}],
        # A frontier-training UltraCluster: Llama 3 405B's run (16,384 chips, 256
        # UltraServers) holds the first cell of 264 racks, its 8 spare UltraServers beside
        # it; the shared job mix runs on the other two (264 and 97 racks). `--shard I/N`
        # works for N up to 3.
        "cell_racks": 264,
        "workload": {"campaigns": [{"cell": 0, "ultraservers": 256}]},
    },
    # Project Rainier scale: 7,812 UltraServers + 2 trn2 nodes = 500,000 chips, 31,250 nodes.
    "rainier-500k": {
        "name": "rainier-500k",
        "availability_zones": [
            {**_az(0, ultraservers=2604, trn2=2), "datacenters": 10, "racks_per_row": 20},
            {**_az(1, ultraservers=2604), "datacenters": 10, "racks_per_row": 20},
            {**_az(2, ultraservers=2604), "datacenters": 10, "racks_per_row": 20},
        ],
        # 7,813 racks in 63 cells of 125 (8,000 chips): 13 shards of ~40k chips, or more.
        "cell_racks": 125,
    },
}

DEFAULT_PRESET = "ohio"


def preset(name: str) -> dict[str, Any]:
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(PRESETS)
        raise ConfigError(f"unknown preset {name!r} (known: {known})") from None
