"""Pretraining campaigns: a frontier run holding a scheduling cell of its own.

Big models are not trained by a gang that queues with everyone else's jobs: the run is
given its machines for weeks, with hot spares beside them, and restarts on them after every
interruption (Llama 3 405B: 16,384 GPUs for 54 days, 419 unexpected interruptions,
"effective training time stayed above 90%"; Dubey et al. 2024). A `workload.campaigns`
entry is that: at start its gang is placed on the cell's first healthy UltraServers; the
cell's other UltraServers are its spares, and the scheduler places nothing else there and
sends it no arrivals. A crash requeues the run at restart priority in its own cell, where
it finds its healthy UltraServers plus spares free at once. The interruption rate then
scales with the gang (per-chip rates × chips), which is what makes a fleet's effective
training time what frontier runs report (`tests/soak/test_soak.py`).
"""

from __future__ import annotations

from trnmon.config.model import Campaign, FleetConfig
from trnmon.errors import ConfigError
from trnmon.hw.catalog import ULTRASERVER_NODES
from trnmon.sim.cells import Cell, fleet_cells
from trnmon.sim.workloads import MODELS, JobSpec

# tp 16 within a node, pp 8 across an UltraServer's nodes and beyond (Llama 3 405B's 3D
# layout: tp 8, pp 16 on H100 nodes of 8); data parallel over the rest.
CAMPAIGN_TP, CAMPAIGN_PP = 16, 8
# Sequences per step: Llama 3 405B's final batch, 16M tokens of 8,192 (Dubey et al. 2024,
# §3.4.1). With data parallel 128 that is 16 micro-batches per replica, so the 1F1B
# bubble is 7/16 of a step's compute rather than 7/4 at the default 512.
CAMPAIGN_GLOBAL_BATCH = 2048


def campaign_spec(c: Campaign) -> JobSpec:
    """The campaign's gang as a job."""
    return JobSpec(kind="pretrain", model=c.model, nodes=c.ultraservers * ULTRASERVER_NODES,
                   ultraserver=True, tp=CAMPAIGN_TP, pp=CAMPAIGN_PP,
                   global_batch=CAMPAIGN_GLOBAL_BATCH, duration_s=c.days * 86400.0)


def cell_campaigns(config: FleetConfig, cells: list[Cell],
                   n_fleet_racks: int) -> dict[int, Campaign]:
    """The campaigns of this topology's cells, by local cell position; `ConfigError` (one
    line) for a campaign whose cell the fleet lacks, whose cell is too small for its gang,
    or whose model is unknown. A shard checks every campaign's cell index, and the sizes
    of the cells it holds."""
    total = fleet_cells(n_fleet_racks, config.cell_racks)
    out: dict[int, Campaign] = {}
    for i, c in enumerate(config.workload.campaigns):
        where = f"config error: workload.campaigns[{i}]"
        if c.cell >= total:
            raise ConfigError(f"{where}.cell: {c.cell} is not a scheduling cell (the fleet has "
                              f"{total}; set cell_racks to split it)")
        if c.model not in MODELS:
            raise ConfigError(f"{where}.model: unknown model {c.model!r}")
        for pos, cell in enumerate(cells):
            if cell.index != c.cell:
                continue
            have = cell.us_hi - cell.us_lo
            if have < c.ultraservers:
                raise ConfigError(f"{where}.ultraservers: {c.ultraservers} UltraServers do "
                                  f"not fit cell {c.cell}, which has {have}")
            out[pos] = c
    return out
