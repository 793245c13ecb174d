"""History: ring buffers of fleet, per-node and per-chip aggregates, one row per recorded tick
(a daemon catching up after a stall records the last tick of the burst).

Per-node history keeps a long window (default 600 ticks); per-chip history a short one
(default 120 ticks, float16) so that a 40,000-chip fleet stays within tens of MB. A TUI
that attaches later asks for the past instead of starting blank.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from trnmon.api.models import HistorySeries
from trnmon.snapshot import FleetSnapshot
from trnmon.topology import Topology

FLEET_SERIES = ("utilization", "power_watts", "busy_chips", "unhealthy_chips",
                "hbm_used_bytes", "jobs")
NODE_SERIES = ("utilization", "power_watts", "temperature_max_celsius", "hbm_used_bytes")
CHIP_SERIES = ("utilization", "power_watts", "temperature_celsius", "hbm_used_bytes")


class Ring:
    """A fixed-size ring of rows; `ordered()` returns them oldest first."""

    def __init__(self, window: int, shape: tuple[int, ...], dtype: npt.DTypeLike) -> None:
        self.data = np.zeros((window, *shape), dtype=dtype)
        self.count = 0

    @property
    def window(self) -> int:
        return int(self.data.shape[0])

    def push(self, row: npt.ArrayLike) -> None:
        self.data[self.count % self.window] = row
        self.count += 1

    def ordered(self, index: tuple[int | slice, ...] = ()) -> npt.NDArray[np.generic]:
        n = min(self.count, self.window)
        start = self.count % self.window if self.count > self.window else 0
        rows = (np.arange(n) + start) % self.window
        return self.data[(rows, *index)]


class HistoryBuffer:
    def __init__(self, topo: Topology, *, node_window: int = 600, chip_window: int = 120
                 ) -> None:
        self.topo = topo
        self.t = Ring(node_window, (), np.float64)
        self.fleet = Ring(node_window, (len(FLEET_SERIES),), np.float64)
        self.nodes = Ring(node_window, (len(NODE_SERIES), topo.n_nodes), np.float32)
        self.chip_t = Ring(chip_window, (), np.float64)
        self.chips = Ring(chip_window, (len(CHIP_SERIES), topo.n_chips), np.float16)

    def record(self, snap: FleetSnapshot) -> None:
        tot = snap.fleet_totals()
        s = snap.node_summary
        self.t.push(snap.t)
        self.fleet.push([tot["utilization"], tot["power_watts"], tot["busy_chips"],
                         tot["unhealthy_chips"], tot["hbm_used_bytes"], tot["jobs"]])
        self.nodes.push(np.stack([s[k] for k in NODE_SERIES]))
        st = snap.state
        self.chip_t.push(snap.t)
        # HBM in GiB so that float16 holds it (max 65504).
        self.chips.push(np.stack([snap.chip_util, st.power_w, st.temp_c,
                                  snap.hbm_used_total / 2**30]))

    def fleet_series(self) -> HistorySeries:
        data = self.fleet.ordered()
        return HistorySeries(scope="fleet", t=self.t.ordered().tolist(), series={
            k: data[:, i].tolist() for i, k in enumerate(FLEET_SERIES)})

    def node_series(self, node: int, scope: str | None = None) -> HistorySeries:
        """The node's history; `scope` names it (default: its first instance id)."""
        return HistorySeries(scope=scope or self.topo.instance_ids[node],
                             t=self.t.ordered().tolist(),
                             series={k: self.nodes.ordered((i, node)).tolist()
                                     for i, k in enumerate(NODE_SERIES)})

    def device_series(self, chip: int, scope: str | None = None) -> HistorySeries:
        """The device's history; `scope` names it (default: first instance id/ndN)."""
        node = int(self.topo.chip_node[chip])
        scope = scope or f"{self.topo.instance_ids[node]}/nd{int(self.topo.chip_local[chip])}"
        series = {k: self.chips.ordered((i, chip)).astype(np.float64).tolist()
                  for i, k in enumerate(CHIP_SERIES)}
        series["hbm_used_bytes"] = [v * 2**30 for v in series["hbm_used_bytes"]]
        return HistorySeries(scope=scope, t=self.chip_t.ordered().tolist(), series=series)

    # --- persistence -------------------------------------------------------------------
    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        out: dict[str, npt.NDArray[np.generic]] = {}
        for name in ("t", "fleet", "nodes", "chip_t", "chips"):
            ring: Ring = getattr(self, name)
            out[f"history_{name}"] = ring.data
            out[f"history_{name}_count"] = np.array(ring.count)
        return out

    def restore(self, arrays: dict[str, npt.NDArray[np.generic]]) -> None:
        for name in ("t", "fleet", "nodes", "chip_t", "chips"):
            ring: Ring = getattr(self, name)
            data = arrays[f"history_{name}"]
            if data.shape != ring.data.shape:
                raise ValueError(f"history {name} has shape {data.shape}, "
                                 f"expected {ring.data.shape}")
            ring.data[...] = data
            ring.count = int(arrays[f"history_{name}_count"])
