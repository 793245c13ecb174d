"""Faults: drawn at configured rates (counts first, then positions) or injected on demand.

Rates are the Llama-3 405B interruption table (emulation-model.md §3) per 10^4 chip-days,
assuming Trainium fails like H100 (unverified). Correctable ECC is heavy-tailed: every chip
gets a lognormal rate, so a few chips produce most of the events, as DRAM fleets do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from trnmon.config.model import FaultConfig
from trnmon.sim.cells import Cell
from trnmon.sim.scheduler import Scheduler
from trnmon.sim.simstate import FaultState
from trnmon.sim.state import (
    ECC_EVENTS,
    EXECUTION_ERRORS,
    EXECUTION_STATUS,
    FleetState,
    Health,
    LinkState,
)
from trnmon.topology import Topology

DAY = 86400.0


class FaultKind(StrEnum):
    """Every fault the emulator raises or injects, by its API name."""

    HBM_ECC_CORRECTED = "hbm_ecc_corrected"
    HBM_ECC_UNCORRECTED = "hbm_ecc_uncorrected"
    SRAM_ECC_CORRECTED = "sram_ecc_corrected"
    SRAM_ECC_UNCORRECTED = "sram_ecc_uncorrected"
    LINK_DEGRADED = "link_degraded"
    LINK_DOWN = "link_down"
    THERMAL_THROTTLE = "thermal_throttle"
    CHIP_HANG = "chip_hang"
    NODE_LOSS = "node_loss"


# Per 10^4 chip-days (Llama-3 table): HBM3 0.814; SRAM 0.215; system processor + NCCL
# watchdog 0.271 -> hang; switch/cable 0.396 -> link down; part of "faulty GPU (incl.
# NVLink)" 1.673 -> degraded links (0.8); thermal 0.068; host maintenance + NIC + PSU + SSD
# 0.509 -> node loss (drawn per chip, applied to its node).
RANDOM_RATES: dict[FaultKind, float] = {
    FaultKind.HBM_ECC_UNCORRECTED: 0.814e-4,
    FaultKind.SRAM_ECC_UNCORRECTED: 0.215e-4,
    FaultKind.CHIP_HANG: 0.271e-4,
    FaultKind.LINK_DOWN: 0.396e-4,
    FaultKind.LINK_DEGRADED: 0.8e-4,
    FaultKind.THERMAL_THROTTLE: 0.068e-4,
    FaultKind.NODE_LOSS: 0.509e-4,
}
_RANDOM_KINDS = tuple(RANDOM_RATES)
_RANDOM_RATE_VEC = np.array([RANDOM_RATES[k] for k in _RANDOM_KINDS]) / DAY

STORM_RATE_PER_S = 50.0  # injected correctable-ECC storm
COOLING_FAILURE_C = 50.0  # ambient rise at a chip whose cooling failed
DEGRADED_LINK_ERRORS_PER_S = 25.0


@dataclass(eq=False)
class Fault:
    """One active fault: where it is, when it started and when (if ever) it clears."""

    fault_id: int
    kind: FaultKind
    chip: int  # -1 for node faults
    node: int
    port: int  # -1 unless a link fault
    started_at: float
    clears_at: float | None  # None: stays until cleared
    injected: bool


class FaultEngine:
    """Draws random faults per cell, applies injected ones, repairs what is due, and
    carries their effects to the device state and the scheduler. What it mutates lives
    in `fault_state` (part of the engine's `SimState`)."""

    def __init__(self, topo: Topology, cfg: FaultConfig, state: FleetState,
                 scheduler: Scheduler, cells: list[Cell]) -> None:
        self.topo = topo
        self.cfg = cfg
        self.state = state
        self.sched = scheduler
        self.cells = cells
        self.events: list[tuple[str, Fault]] = []  # ("raised"|"cleared", fault)
        # Heavy-tailed correctable ECC: lognormal per-chip weights with mean 1; each cell's
        # slice is that cell's CDF.
        ecc_cdf = np.empty(topo.n_chips, dtype=np.float64)
        for c in cells:
            w = c.rng.lognormal(mean=0.0, sigma=1.6, size=c.n_chips)
            ecc_cdf[c.chip_lo:c.chip_hi] = np.cumsum(w / w.sum())
        # Everything the fault engine mutates lives in its part of the SimState; fault ids
        # are per scheduling cell.
        self.fault_state = FaultState(
            active={}, next_ids=[c.first_id for c in cells], ecc_cdf=ecc_cdf,
            ambient_offset=np.zeros(topo.n_chips, dtype=np.float32),
            storm_rate=np.zeros((topo.n_chips, 2), dtype=np.float64))

    # --- the mutable part, by the names the fault engine has always used -----------------
    @property
    def active(self) -> dict[int, Fault]:
        return self.fault_state.active

    @active.setter
    def active(self, value: dict[int, Fault]) -> None:
        self.fault_state.active = value

    @property
    def next_ids(self) -> list[int]:
        return self.fault_state.next_ids

    @next_ids.setter
    def next_ids(self, value: list[int]) -> None:
        self.fault_state.next_ids = value

    @property
    def ecc_cdf(self) -> npt.NDArray[np.float64]:
        return self.fault_state.ecc_cdf

    @property
    def ambient_offset(self) -> npt.NDArray[np.float32]:
        return self.fault_state.ambient_offset

    @property
    def storm_rate(self) -> npt.NDArray[np.float64]:
        return self.fault_state.storm_rate

    @property
    def links_changed(self) -> bool:
        return self.fault_state.links_changed

    @links_changed.setter
    def links_changed(self, value: bool) -> None:
        self.fault_state.links_changed = value

    @property
    def next_id(self) -> int:
        """The next fault id of the first cell (of the fleet, with one cell)."""
        return self.next_ids[0]

    # --- random faults: counts, then positions ----------------------------------------
    def draw(self, dt: float, now: float) -> None:
        for c in self.cells:
            self._draw_cell(c, dt, now)
        self._deterministic(dt, now)

    def _draw_cell(self, c: Cell, dt: float, now: float) -> None:
        """Random faults of one cell, from the cell's generator only."""
        rng, n, lo = c.rng, c.n_chips, c.chip_lo
        scale = self.cfg.rate_multiplier * n * dt if self.cfg.enabled else 0.0
        counts = rng.poisson(_RANDOM_RATE_VEC * scale)
        for kind, k in zip(_RANDOM_KINDS, counts.tolist(), strict=True):
            for chip in (rng.integers(0, n, size=k) + lo).tolist():
                if self.state.health[chip] == Health.HEALTHY:
                    port = int(rng.integers(0, 4)) if kind in (
                        FaultKind.LINK_DOWN, FaultKind.LINK_DEGRADED) else -1
                    repair = float(rng.exponential(self.cfg.repair_hours * 3600.0))
                    self.raise_fault(kind, chip=chip, port=port, now=now,
                                     clears_at=now + repair, injected=False)
        # Correctable ECC: Poisson total over the fleet, positions by the heavy-tailed CDF.
        mean = self.cfg.correctable_ecc_per_chip_day / DAY * scale if self.cfg.enabled else 0.0
        k = int(rng.poisson(mean))
        if k:
            chips = np.searchsorted(self.ecc_cdf[lo:c.chip_hi], rng.random(k), side="right")
            chips = np.minimum(chips, n - 1) + lo
            sram = rng.random(k) < 0.1
            np.add.at(self.state.ecc[:, ECC_EVENTS.index("mem_ecc_corrected")], chips[~sram], 1)
            np.add.at(self.state.ecc[:, ECC_EVENTS.index("sram_ecc_corrected")], chips[sram], 1)

    def _deterministic(self, dt: float, now: float) -> None:
        # Injected storms and degraded links: deterministic rates.
        # Chips with a storm come from the active faults (a handful), not from a scan of
        # every chip each tick.
        storming = np.array(sorted({f.chip for f in self.active.values() if f.kind in (
            FaultKind.HBM_ECC_CORRECTED, FaultKind.SRAM_ECC_CORRECTED)}), dtype=np.int64)
        if storming.size:
            for col, name in enumerate(("mem_ecc_corrected", "sram_ecc_corrected")):
                self.state.ecc[storming, ECC_EVENTS.index(name)] += (
                    self.storm_rate[storming, col] * dt)
        for f in self.active.values():
            if f.kind == FaultKind.LINK_DEGRADED:
                self.state.link_errors[f.chip, f.port] += DEGRADED_LINK_ERRORS_PER_S * dt
        # Repairs due.
        for f in [f for f in self.active.values() if f.clears_at is not None
                  and f.clears_at <= now]:
            self.clear(f.fault_id, now)

    # --- effects ---------------------------------------------------------------------
    def raise_fault(self, kind: FaultKind, *, chip: int = -1, node: int = -1, port: int = -1,
                    now: float = 0.0, clears_at: float | None = None,
                    injected: bool = True) -> Fault:
        topo, dev = self.topo, self.state
        if kind == FaultKind.NODE_LOSS and node < 0:
            node = int(topo.chip_node[chip])
        if chip < 0 and kind != FaultKind.NODE_LOSS:
            chip = int(topo.node_chip_start[node])
        if chip >= 0:
            node = int(topo.chip_node[chip])
        if kind in (FaultKind.LINK_DOWN, FaultKind.LINK_DEGRADED):
            valid = np.flatnonzero(topo.port_valid[chip])
            port = int(valid[0]) if port < 0 or port not in valid else port
        cell = int(self.sched.node_cell[node])
        f = Fault(self.next_ids[cell], kind, chip if kind != FaultKind.NODE_LOSS else -1, node,
                  port, now, clears_at, injected)
        self.next_ids[cell] += 1
        self.active[f.fault_id] = f
        self.events.append(("raised", f))
        ecc = ECC_EVENTS.index
        if kind in (FaultKind.HBM_ECC_UNCORRECTED, FaultKind.SRAM_ECC_UNCORRECTED):
            col = "mem_ecc_uncorrected" if kind == FaultKind.HBM_ECC_UNCORRECTED else (
                "sram_ecc_uncorrected")
            dev.ecc[chip, ecc(col)] += 1
            dev.exec_errors[chip, EXECUTION_ERRORS.index("hardware")] += 1
            dev.exec_status[chip, EXECUTION_STATUS.index("completed_with_err")] += 1
            dev.health[chip] = Health.FAILED
            self._crash_jobs(np.array([chip]), f"{kind.value} on chip {chip}", kind)
        elif kind in (FaultKind.HBM_ECC_CORRECTED, FaultKind.SRAM_ECC_CORRECTED):
            sram = kind == FaultKind.SRAM_ECC_CORRECTED
            dev.ecc[chip, ecc("sram_ecc_corrected" if sram else "mem_ecc_corrected")] += 1
            self.storm_rate[chip, int(sram)] += STORM_RATE_PER_S
        elif kind in (FaultKind.LINK_DOWN, FaultKind.LINK_DEGRADED):
            new = LinkState.DOWN if kind == FaultKind.LINK_DOWN else LinkState.DEGRADED
            self._set_link(chip, port, new)
            if new == LinkState.DOWN:
                dev.link_errors[chip, port] += 1
        elif kind == FaultKind.THERMAL_THROTTLE:
            self.ambient_offset[chip] += COOLING_FAILURE_C
        elif kind == FaultKind.CHIP_HANG:
            dev.health[chip] = Health.HUNG
            self.sched.stall_jobs_of_chips(np.array([chip]))
        elif kind == FaultKind.NODE_LOSS:
            dev.node_up[node] = False
            chips = np.arange(topo.node_chip_start[node], topo.node_chip_start[node + 1])
            dev.health[chips] = Health.LOST
            self._crash_jobs(chips, f"node {topo.instance_id(node)} lost", kind)
        self._refresh_node(node)
        return f

    def clear(self, fault_id: int, now: float = 0.0) -> Fault:
        f = self.active.pop(fault_id)
        self.events.append(("cleared", f))
        dev = self.state
        if f.kind in (FaultKind.HBM_ECC_UNCORRECTED, FaultKind.SRAM_ECC_UNCORRECTED,
                      FaultKind.CHIP_HANG):
            if not self._other_fault(f.chip, (FaultKind.HBM_ECC_UNCORRECTED,
                                              FaultKind.SRAM_ECC_UNCORRECTED,
                                              FaultKind.CHIP_HANG)):
                dev.health[f.chip] = Health.HEALTHY
        elif f.kind in (FaultKind.HBM_ECC_CORRECTED, FaultKind.SRAM_ECC_CORRECTED):
            col = int(f.kind == FaultKind.SRAM_ECC_CORRECTED)
            self.storm_rate[f.chip, col] = max(0.0, self.storm_rate[f.chip, col]
                                               - STORM_RATE_PER_S)
        elif f.kind in (FaultKind.LINK_DOWN, FaultKind.LINK_DEGRADED):
            others = [o for o in self.active.values() if o.chip == f.chip and o.port == f.port
                      and o.kind in (FaultKind.LINK_DOWN, FaultKind.LINK_DEGRADED)]
            worst = max((LinkState.DOWN if o.kind == FaultKind.LINK_DOWN else LinkState.DEGRADED
                         for o in others), default=LinkState.UP)
            self._set_link(f.chip, f.port, worst)
        elif f.kind == FaultKind.THERMAL_THROTTLE:
            self.ambient_offset[f.chip] -= COOLING_FAILURE_C
        elif f.kind == FaultKind.NODE_LOSS and not any(
                o.kind == FaultKind.NODE_LOSS and o.node == f.node for o in self.active.values()):
                dev.node_up[f.node] = True
                chips = slice(self.topo.node_chip_start[f.node],
                              self.topo.node_chip_start[f.node + 1])
                dev.health[chips] = np.where(dev.health[chips] == Health.LOST,
                                            Health.HEALTHY, dev.health[chips])
        self._refresh_node(f.node)
        del now
        return f

    def _other_fault(self, chip: int, kinds: tuple[FaultKind, ...]) -> bool:
        return any(o.chip == chip and o.kind in kinds for o in self.active.values())

    def _set_link(self, chip: int, port: int, state: LinkState) -> None:
        peer = int(self.topo.port_peer[chip, port])
        back = int(self.topo.port_peer_port[chip, port])
        self.state.link_state[chip, port] = state
        self.state.link_state[peer, back] = state
        self.links_changed = True

    def _crash_jobs(self, chips: npt.NDArray[np.intp], reason: str, kind: FaultKind) -> None:
        for slot in self.sched.jobs_on_chips(chips):
            self.sched.fail_job(slot, reason, cause=kind.value)

    def _refresh_node(self, node: int) -> None:
        chips = slice(self.topo.node_chip_start[node], self.topo.node_chip_start[node + 1])
        bad = (self.state.health[chips] >= Health.FAILED).any()
        self.sched.node_usable[node] = bool(self.state.node_up[node] and not bad)
