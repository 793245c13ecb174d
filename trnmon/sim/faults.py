"""Faults: drawn at the taxonomy's rates (counts first, then positions) or injected on demand.

Random faults follow `trnmon.sim.taxonomy`: the Llama 3 405B interruption table per 10^4
chip-days, each cause drawn at its level (chip causes per chip, node causes once per node at
chips x the per-chip rate, link causes per EFA port, job causes per chip under a job) and
applied as its effect, so at `rate_multiplier = 1` jobs are interrupted at 4.74 per 10^4
chip-days in the table's mix. Correctable ECC is heavy-tailed per device
(`taxonomy.correctable_ecc_rates`).

Replacement. A fault whose effect is "chip replaced" or "node replaced" (an uncorrectable
error, a faulty chip, silent data corruption, a thermal shutdown, a hung system processor,
a lost host) drains its node: the node takes no job until, after the replacement delay
(`faults.replacement_hours`), it comes back as a new instance. Its generation count rises
(`FleetState.node_generation`, which names the new instance id), every fault on it clears,
and the counters a new host starts afresh (ECC, execution status and errors, energy, its
own NeuronLink error counts, EFA) restart from zero under the new instance id, and its
chips draw new correctable-ECC proneness (a weak chip leaves with its host). An injected
node loss or chip hang clears in place (a reboot); an injected hard fault still replaces.

EFA. A network or NIC fault takes one EFA device of the node down (the chip's own on trn2,
one per chip): the node's traffic moves to its other devices, its EFA bandwidth falls to
the up fraction, and the device comes back when the fault clears.

Thermal. A chip above its catalog `critical_celsius` trips (`trip_overheated`): a thermal
shutdown, a hard fault with the taxonomy's `thermal` effect (job crash, node replaced).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from trnmon.config.model import FaultConfig
from trnmon.hw.catalog import CHIPS
from trnmon.sim import taxonomy
from trnmon.sim.cells import Cell
from trnmon.sim.faultkinds import (
    CAUSE_KIND,
    HARD_CHIP_FAULTS,
    KIND_CAUSE,
    REPLACED_EFFECTS,
    Fault,
    FaultKind,
    Replacement,
    replaces_node,
)
from trnmon.sim.fused import fused_ecc
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


# All causes in one vector, so one Poisson draw per tick gives every count; each is drawn
# at its per-chip rate x the cell's chips (a node cause's node rate is chips x per-chip).
_CAUSES = taxonomy.CAUSES
_CAUSE_RATES = np.array([c.rate_per_chip_second for c in _CAUSES], dtype=np.float64)
_CAUSE_ON_NODE = tuple(c.level == taxonomy.Level.NODE for c in _CAUSES)
# Counts then positions, and the count as one Poisson total split by cause: one scalar
# draw per tick (a vector of a dozen Poisson draws cost 20x more, a tenth of a small
# fleet's soak tick), the same distribution.
_CAUSE_TOTAL = float(_CAUSE_RATES.sum())
_CAUSE_P = _CAUSE_RATES / _CAUSE_TOTAL
_ECC_MEM, _ECC_SRAM = (ECC_EVENTS.index(n) for n in ("mem_ecc_corrected", "sram_ecc_corrected"))
SOFTWARE_CLEAR_S = 1.0  # a software crash leaves nothing behind to repair

STORM_RATE_PER_S = 50.0  # injected correctable-ECC storm
COOLING_FAILURE_C = 50.0  # ambient rise at a chip whose cooling failed
DEGRADED_LINK_ERRORS_PER_S = 25.0


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
        # ("raised"|"cleared", fault, the instance id it happened on)
        self.events: list[tuple[str, Fault, str]] = []
        self.replacements: list[Replacement] = []  # since the engine last looked
        self._replacing = False
        self.critical_c = np.array([CHIPS[k].critical_celsius for k in sorted(CHIPS)],
                                   dtype=np.float32)[topo.chip_kind]
        # Heavy-tailed correctable ECC: lognormal per-chip weights with mean 1; each cell's
        # slice is that cell's CDF.
        ecc_cdf = np.empty(topo.n_chips, dtype=np.float64)
        for c in cells:
            # Heavy-tailed per device (taxonomy): a few weak chips take most of the events.
            w = taxonomy.correctable_ecc_rates(c.rng, c.n_chips)  # n normals, as before
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
        on = self.cfg.enabled
        scale = self.cfg.rate_multiplier * dt if on else 0.0
        repair_s = self.cfg.repair_hours * 3600.0
        ecc_scale = self.cfg.correctable_ecc_per_chip_day / DAY * scale if on else 0.0
        ecc: list[tuple[Cell, npt.NDArray[np.float64], npt.NDArray[np.float64]]] = []
        for c in self.cells:
            self._draw_cell(c, scale, repair_s, ecc_scale, now, ecc)
        if ecc:
            self._place_ecc(ecc)
        self._deterministic(dt, now)

    def _draw_cell(self, c: Cell, scale: float, repair_s: float, ecc_scale: float, now: float,
                   ecc: list[tuple[Cell, npt.NDArray[np.float64],
                                   npt.NDArray[np.float64]]]) -> None:
        """Random faults of one cell, from the cell's generator only (its correctable-ECC
        draws are appended to `ecc` for `_place_ecc`)."""
        rng, n, lo = c.rng, c.n_chips, c.chip_lo
        # Chip, job and link (EFA port, one per chip) causes land on a chip; node causes on
        # a node, once. Job causes only matter under a job (see `_random`).
        total = int(rng.poisson(_CAUSE_TOTAL * (scale * n)))
        if total:
            counts = rng.multinomial(total, _CAUSE_P)
            for i in np.flatnonzero(counts).tolist():
                cause, k = _CAUSES[i].name, int(counts[i])
                if _CAUSE_ON_NODE[i]:
                    for node in rng.integers(c.node_lo, c.node_hi, size=k).tolist():
                        self._random(cause, rng, now, repair_s, node=node)
                else:
                    for chip in (rng.integers(0, n, size=k) + lo).tolist():
                        self._random(cause, rng, now, repair_s, chip=chip)
        # Correctable ECC: Poisson total over the cell, positions by the heavy-tailed CDF
        # (where: u; SRAM or HBM: v).
        k = int(rng.poisson(ecc_scale * n))
        if k:
            ecc.append((c, rng.random(k), rng.random(k)))

    def _place_ecc(self, ecc: list[tuple[Cell, npt.NDArray[np.float64],
                                         npt.NDArray[np.float64]]]) -> None:
        """Count this tick's correctable ECC events of every cell at once: the chip is the
        cell's CDF searched at u, the counter SRAM if v < 0.1 else HBM; repeats add."""
        kernel = fused_ecc()
        if len(ecc) == 1:
            c, u, v = ecc[0]
            if kernel is not None:
                chips = np.empty(u.size, dtype=np.intp)
                kernel(self.ecc_cdf, u, np.full(u.size, c.chip_lo), np.full(u.size, c.chip_hi),
                       chips)
            else:
                chips = np.minimum(np.searchsorted(self.ecc_cdf[c.chip_lo:c.chip_hi], u,
                                                   side="right"), c.n_chips - 1) + c.chip_lo
        else:
            u = np.concatenate([e[1] for e in ecc])
            v = np.concatenate([e[2] for e in ecc])
            if kernel is not None:
                sizes = [len(e[1]) for e in ecc]
                lo = np.repeat(np.array([e[0].chip_lo for e in ecc]), sizes)
                hi = np.repeat(np.array([e[0].chip_hi for e in ecc]), sizes)
                chips = np.empty(u.size, dtype=np.intp)
                kernel(self.ecc_cdf, u, lo, hi, chips)
            else:
                chips = np.concatenate([
                    np.minimum(np.searchsorted(self.ecc_cdf[c.chip_lo:c.chip_hi], cu,
                                               side="right"), c.n_chips - 1) + c.chip_lo
                    for c, cu, _ in ecc])
        np.add.at(self.state.ecc, (chips, np.where(v < 0.1, _ECC_SRAM, _ECC_MEM)), 1)

    def _random(self, cause: str, rng: np.random.Generator, now: float, repair_s: float, *,
                chip: int = -1, node: int = -1) -> None:
        """One random fault of a taxonomy cause, where it landed."""
        kind = CAUSE_KIND[cause]
        if node >= 0:
            if not self.state.node_up[node]:
                return
        elif self.state.health[chip] != Health.HEALTHY:
            return
        if kind in (FaultKind.SOFTWARE_CRASH, FaultKind.COLLECTIVE_TIMEOUT) and not (
                self.sched.jobs_on_chips(np.array([chip]))):
            return  # no job there to crash
        # One exponential per fault whatever its kind (the draw order stays fixed): the mean
        # is the replacement delay when the repair is a new instance.
        mean_s = (self.cfg.replacement_hours * 3600.0
                  if taxonomy.CAUSE_BY_NAME[cause].effect in REPLACED_EFFECTS else repair_s)
        clears = now + (SOFTWARE_CLEAR_S if kind == FaultKind.SOFTWARE_CRASH
                        else float(rng.exponential(mean_s)))
        self.raise_fault(kind, chip=chip, node=node, now=now, clears_at=clears,
                         injected=False, cause=cause)

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
            if f.fault_id in self.active:  # a replacement earlier in this loop cleared it
                self.clear(f.fault_id, now)

    def trip_overheated(self, now: float) -> None:
        """Thermal shutdown of every working chip above its `critical_celsius`: a hard fault
        under the taxonomy's `thermal` cause (job crash, node drained and replaced)."""
        dev = self.state
        hot = np.flatnonzero((dev.temp_c > self.critical_c) & (dev.health <= Health.DEGRADED))
        for chip in hot.tolist():
            node = int(self.topo.chip_node[chip])
            rng = self.cells[int(self.sched.node_cell[node])].rng
            clears = now + float(rng.exponential(self.cfg.replacement_hours * 3600.0))
            self.raise_fault(FaultKind.THERMAL_SHUTDOWN, chip=chip, now=now, clears_at=clears,
                             injected=False, cause="thermal")

    # --- effects ---------------------------------------------------------------------
    def raise_fault(self, kind: FaultKind, *, chip: int = -1, node: int = -1, port: int = -1,
                    now: float = 0.0, clears_at: float | None = None,
                    injected: bool = True, cause: str = "") -> Fault:
        """Raise a fault and apply its effect; `cause` is the taxonomy cause of a random one."""
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
        elif kind == FaultKind.EFA_DOWN:
            port = self._efa_device(chip, port)
        cell = int(self.sched.node_cell[node])
        f = Fault(self.next_ids[cell], kind, chip if kind != FaultKind.NODE_LOSS else -1, node,
                  port, now, clears_at, injected)
        f.cause = cause
        self.next_ids[cell] += 1
        self.active[f.fault_id] = f
        self.events.append(("raised", f, self.instance_id(node)))
        ecc = ECC_EVENTS.index
        if kind in HARD_CHIP_FAULTS:
            if kind == FaultKind.HBM_ECC_UNCORRECTED:
                dev.ecc[chip, ecc("mem_ecc_uncorrected")] += 1
            elif kind == FaultKind.SRAM_ECC_UNCORRECTED:
                dev.ecc[chip, ecc("sram_ecc_uncorrected")] += 1
            error = "numerical" if kind == FaultKind.SILENT_DATA_CORRUPTION else "hardware"
            dev.exec_errors[chip, EXECUTION_ERRORS.index(error)] += 1
            dev.exec_status[chip, EXECUTION_STATUS.index("completed_with_err")] += 1
            dev.health[chip] = Health.FAILED
            what = (f"thermal shutdown at {float(dev.temp_c[chip]):.0f} C"
                    if kind == FaultKind.THERMAL_SHUTDOWN else kind.value)
            self._crash_jobs(np.array([chip]), f"{what} on chip {chip}", f)
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
            # A cooling failure is a state, not a quantity: more faults on one chip do not
            # heat it further (1,000 stacked faults once drove a chip to 10,017 C).
            self.ambient_offset[chip] = COOLING_FAILURE_C
        elif kind == FaultKind.CHIP_HANG:
            dev.health[chip] = Health.HUNG
            self.sched.stall_jobs_of_chips(np.array([chip]))
        elif kind == FaultKind.COLLECTIVE_TIMEOUT:
            self.sched.stall_jobs_of_chips(np.array([chip]))
        elif kind == FaultKind.SOFTWARE_CRASH:
            dev.exec_errors[chip, EXECUTION_ERRORS.index("runtime")] += 1
            self._crash_jobs(np.array([chip]), f"software bug on chip {chip}", f)
        elif kind == FaultKind.EFA_DOWN:
            dev.exec_errors[chip, EXECUTION_ERRORS.index("transient")] += 1
            if port >= 0:
                dev.efa_state[node, port] = LinkState.DOWN
                dev.efa_dev_errors[node, port] += 1
                self.links_changed = True
            self._crash_jobs(np.array([chip]), f"EFA device of chip {chip} down", f)
        elif kind == FaultKind.NODE_LOSS:
            dev.node_up[node] = False
            chips = np.arange(topo.node_chip_start[node], topo.node_chip_start[node + 1])
            dev.health[chips] = Health.LOST
            self._crash_jobs(chips, f"node {self.instance_id(node)} lost", f)
        self._refresh_node(node)
        return f

    def clear(self, fault_id: int, now: float = 0.0) -> Fault:
        """Clear a fault: heal in place, or (`replaces_node`) replace its node."""
        f = self.active.pop(fault_id)
        self.events.append(("cleared", f, self.instance_id(f.node)))
        if replaces_node(f) and not self._replacing:
            self._replace(f, now)
            return f
        dev = self.state
        if f.kind in (*HARD_CHIP_FAULTS, FaultKind.CHIP_HANG):
            if not self._other_fault(f.chip, (*HARD_CHIP_FAULTS, FaultKind.CHIP_HANG)):
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
            if not self._other_fault(f.chip, (FaultKind.THERMAL_THROTTLE,)):
                self.ambient_offset[f.chip] = 0.0
        elif f.kind == FaultKind.EFA_DOWN and f.port >= 0 and not any(
                o.kind == FaultKind.EFA_DOWN and o.node == f.node and o.port == f.port
                for o in self.active.values()):
            dev.efa_state[f.node, f.port] = LinkState.UP
            self.links_changed = True
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

    def _replace(self, f: Fault, now: float) -> None:
        """The node of `f` comes back as a new instance: every fault on it clears, its
        chips are healthy, the counters a new host starts afresh are zero, and its
        generation (which names the instance) rises."""
        node, dev, topo = f.node, self.state, self.topo
        self._replacing = True
        try:
            for other in [o for o in self.active.values() if o.node == node]:
                self.clear(other.fault_id, now)
        finally:
            self._replacing = False
        chips = slice(int(topo.node_chip_start[node]), int(topo.node_chip_start[node + 1]))
        dev.node_up[node] = True
        dev.health[chips] = Health.HEALTHY
        for arr in (dev.ecc, dev.exec_status, dev.exec_errors, dev.energy_j, dev.link_errors):
            arr[chips] = 0.0
        for arr in (dev.efa_dev_tx_bytes, dev.efa_dev_rx_bytes, dev.efa_dev_errors):
            arr[node] = 0.0
        dev.efa_tx_bytes[node] = dev.efa_rx_bytes[node] = 0.0
        dev.efa_state[node] = LinkState.UP
        self.storm_rate[chips] = 0.0
        self.ambient_offset[chips] = 0.0
        self._redraw_ecc(node)
        self.links_changed = True
        self.replacements.append(Replacement(node, int(dev.node_generation[node]),
                                             f.cause or KIND_CAUSE.get(f.kind, f.kind.value),
                                             f.started_at))
        dev.node_generation[node] += 1
        self._refresh_node(node)

    def _redraw_ecc(self, node: int) -> None:
        """New chips, new correctable-ECC proneness: the node's chips draw fresh heavy-tailed
        weights (from the cell's generator) and the cell's CDF is rebuilt. The cell's
        weights are recovered from the CDF on the scale of the draws: every chip without a
        hard fault has exactly the soft rate, so the smallest share is soft / total."""
        topo = self.topo
        cell = self.cells[int(self.sched.node_cell[node])]
        lo, hi = cell.chip_lo, cell.chip_hi
        share = np.diff(self.ecc_cdf[lo:hi], prepend=0.0)
        soft = taxonomy.CE_SOFT_PER_DEVICE_YEAR / (365.0 * DAY)
        rates = share * (soft / share[share > 0].min())
        a, b = int(topo.node_chip_start[node]) - lo, int(topo.node_chip_start[node + 1]) - lo
        rates[a:b] = taxonomy.correctable_ecc_rates(cell.rng, b - a)
        self.ecc_cdf[lo:hi] = np.cumsum(rates / rates.sum())

    def instance_id(self, node: int) -> str:
        """The node's current instance id (its replacements counted)."""
        return self.topo.instance_id(node, int(self.state.node_generation[node]))

    def _efa_device(self, chip: int, port: int) -> int:
        """The EFA device a fault on `chip` takes down: `port` when it names one of the
        node's devices, else the chip's own (trn2: one per chip; trn1: one per two chips);
        -1 on a node without EFA."""
        node = int(self.topo.chip_node[chip])
        n_efa = int(self.topo.node_efa_devices[node])
        if n_efa == 0:
            return -1
        if 0 <= port < n_efa:
            return port
        per_node = int(self.topo.node_chip_start[node + 1] - self.topo.node_chip_start[node])
        return int(self.topo.chip_local[chip]) * n_efa // per_node

    def _other_fault(self, chip: int, kinds: tuple[FaultKind, ...]) -> bool:
        return any(o.chip == chip and o.kind in kinds for o in self.active.values())

    def _set_link(self, chip: int, port: int, state: LinkState) -> None:
        peer = int(self.topo.port_peer[chip, port])
        back = int(self.topo.port_peer_port[chip, port])
        self.state.link_state[chip, port] = state
        self.state.link_state[peer, back] = state
        self.links_changed = True

    def stall_cause(self, chips: npt.NDArray[np.intp]) -> str:
        """The cause a watchdog-failed job is counted under: the hang on one of its chips."""
        on = set(chips.tolist())
        for f in self.active.values():
            if f.kind in (FaultKind.CHIP_HANG, FaultKind.COLLECTIVE_TIMEOUT) and f.chip in on:
                return f.cause or KIND_CAUSE[f.kind]
        return KIND_CAUSE[FaultKind.COLLECTIVE_TIMEOUT]

    def _crash_jobs(self, chips: npt.NDArray[np.intp], reason: str, fault: Fault) -> None:
        cause = fault.cause or KIND_CAUSE.get(fault.kind, fault.kind.value)
        for slot in self.sched.jobs_on_chips(chips):
            self.sched.fail_job(slot, reason, cause=cause)

    def _refresh_node(self, node: int) -> None:
        """Whether the scheduler may place on the node: up, no chip out, and some EFA
        device up (when it has any)."""
        chips = slice(self.topo.node_chip_start[node], self.topo.node_chip_start[node + 1])
        n_efa = int(self.topo.node_efa_devices[node])
        bad = (self.state.health[chips] >= Health.FAILED).any() or (
            n_efa > 0 and (self.state.efa_state[node, :n_efa] == LinkState.DOWN).all())
        usable = bool(self.state.node_up[node] and not bad)
        if usable != self.sched.node_usable[node]:
            self.sched.node_usable[node] = usable
            self.sched.touch_node(node)
