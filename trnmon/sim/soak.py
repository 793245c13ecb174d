"""Soak runs: simulated months as fast as the machine allows, one summary line a day.

The engine runs without its per-chip device tick (`Engine.step(devices=False)`): a soak
measures the scheduler, the faults and goodput, which do not read power or temperature.
Each simulated day prints `{"soak": "day", ...}`; the end prints `{"soak": "summary",
...}`. Everything but `wall_s` and `sim_days_per_wall_s` depends only on config and seed.
`trnmon soak` prints these lines; `trnmon bench soak` times them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from trnmon.config.model import FleetConfig
from trnmon.sim.cost import CAPACITY_STATES
from trnmon.sim.engine import Engine
from trnmon.sim.goodput import effective_training_time
from trnmon.sim.jobmix import FAMILIES

DAY_S = 86400.0


def _families(eng: Engine) -> list[str]:
    present = set(eng.scheduler.node_family.tolist())
    return [f for f in FAMILIES if f in present]


def _counts(eng: Engine) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Healthy and allocated healthy nodes per family, over all cells."""
    sched = eng.scheduler
    fam, usable = sched.node_fam, sched.node_usable
    healthy = np.bincount(fam[usable], minlength=len(FAMILIES))
    allocated = np.bincount(fam[usable & (sched.node_job >= 0)], minlength=len(FAMILIES))
    return healthy, allocated


def _cost_summary(eng: Engine, fams: list[str], cost_start: np.ndarray[Any, Any],
                  tokens_start: np.ndarray[Any, Any]) -> dict[str, Any]:
    """What the run's capacity cost by family and state, and tokens per unit of it."""
    meter = eng.cost
    spent = meter.ledger.dollars - cost_start
    tokens = meter.family_tokens - tokens_start
    rows = {f: meter.ledger.families.index(f) for f in fams}
    return {
        "currency": meter.currency,
        "cost_total": round(float(spent.sum()), 2),
        "cost_by_state": {f: {st.label: round(float(spent[i, int(st)]), 2)
                              for st in CAPACITY_STATES} for f, i in rows.items()},
        "tokens_per_dollar_by_family": {
            f: round(float(tokens[i] / spent[i].sum()), 1) if spent[i].sum() > 0 else 0.0
            for f, i in rows.items()}}


def cost_table(summary: dict[str, Any]) -> str:
    """The README's soak cost table: cost by family and state, tokens per unit of cost."""
    states = [st.label for st in CAPACITY_STATES]
    cur = summary["currency"]
    out = ["| family | " + " | ".join(states) + f" | total {cur} | tokens per {cur} |",
           "|---" * (len(states) + 3) + "|"]
    for fam, row in summary["cost_by_state"].items():
        total = sum(row.values())
        out.append(f"| {fam} | " + " | ".join(f"{row[s]:,.0f}" for s in states)
                   + f" | {total:,.0f} | {summary['tokens_per_dollar_by_family'][fam]:,.0f} |")
    return "\n".join(out)


def soak(config: FleetConfig, days: int, tick: float,
         on_tick: Callable[[Engine], None] | None = None,
         progress: Callable[[float], None] | None = None) -> Iterator[dict[str, Any]]:
    """Run `days` simulated days at `tick`-second ticks; yield a line per day, then the
    summary. `on_tick` sees the engine after every tick (tests check invariants there)."""
    started = time.perf_counter()
    eng = Engine(config)
    # The fused job tick (numba; tested equal to numpy and to the reference) at every size:
    # on a small fleet the numpy job tick's fixed cost is most of a soak tick. A soak's
    # lines are the same either way (checked over 20 days of ohio).
    eng.jobs.backend = "numba"
    sched = eng.scheduler
    st = sched.sched_state
    fams = _families(eng)
    ticks_per_day = max(1, round(DAY_S / tick))
    chips = eng.topo.n_chips
    gp_start = st.goodput.copy()
    cost_start = eng.cost.ledger.dollars.copy()
    tokens_start = eng.cost.family_tokens.copy()
    causes: Counter[str] = Counter()
    queue_max = 0
    busy_total = np.zeros(len(FAMILIES))
    busy_all_total = 0.0
    base = {"completed": st.completed, "rejected": st.rejected, "failed": st.failed}
    seen = -1
    share, share_all = np.zeros(len(FAMILIES)), 0.0
    for day in range(1, days + 1):
        day_start = {"completed": st.completed, "rejected": st.rejected, "failed": st.failed}
        gp_day = st.goodput.copy()
        interrupts_before = dict(st.interruptions)
        busy = np.zeros(len(FAMILIES))
        busy_all = 0.0
        sched.wait_log.clear()
        # Allocation changes only at scheduler events (`Scheduler.version`): the busy
        # shares are recounted after one, and the last count is added on other ticks.
        for _ in range(ticks_per_day):
            eng.step(tick, devices=False)
            if sched.version != seen:
                seen = sched.version
                healthy, allocated = _counts(eng)
                share = np.divide(allocated, healthy, out=np.zeros(len(FAMILIES)),
                                  where=healthy > 0)
                share_all = float(allocated.sum()) / max(int(healthy.sum()), 1)
                queued = sum(len(q) for q in sched.queues)
                queue_max = max(queue_max, queued)
            busy += share
            busy_all += share_all
            if on_tick is not None:
                on_tick(eng)
        if progress is not None:
            progress(day / days)
        busy /= ticks_per_day
        busy_all /= ticks_per_day
        busy_total += busy
        busy_all_total += busy_all
        for k, v in st.interruptions.items():
            causes[k] += v - interrupts_before.get(k, 0)
        waits = sched.wait_log
        yield {"soak": "day", "day": day, "busy_fraction": round(busy_all, 4),
               "busy_by_family": {f: round(float(busy[FAMILIES.index(f)]), 4) for f in fams},
               "queue": sum(len(q) for q in sched.queues),
               "queue_wait_p50_s": round(float(np.median(waits)), 1) if waits else 0.0,
               "rejected": st.rejected - day_start["rejected"],
               "completed": st.completed - day_start["completed"],
               "interruptions": st.failed - day_start["failed"],
               "effective_training_time": round(effective_training_time(st.goodput - gp_day),
                                                4)}
    wall = time.perf_counter() - started
    interruptions = st.failed - base["failed"]
    yield {"soak": "summary", "days": days, "chip_days": chips * days,
           "busy_fraction": round(busy_all_total / max(days, 1), 4),
           "busy_by_family": {f: round(float(busy_total[FAMILIES.index(f)]) / max(days, 1), 4)
                              for f in fams},
           "queue_max": queue_max, "completed": st.completed - base["completed"],
           "rejected": st.rejected - base["rejected"],
           "interruptions_per_10k_chip_days": round(interruptions / max(chips * days, 1)
                                                    * 1e4, 3),
           "interruptions_by_cause": dict(sorted(causes.items())),
           "effective_training_time": round(effective_training_time(st.goodput - gp_start), 4),
           **_cost_summary(eng, fams, cost_start, tokens_start),
           "wall_s": round(wall, 2),
           "sim_days_per_wall_s": round(days / wall, 3) if wall > 0 else 0.0}


