"""The Fleet table's rows as arrays: grouping, filtering and sorting without per-row Python.

`FleetArrays` is built once per summary (one pass over the node rows); a `FleetView`
(level, scope, filter, sort) then selects, aggregates and orders with numpy, and formats a
row only when the table shows it. At 2,500 nodes a keystroke costs array operations, not
2,500 row objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trnmon.api.models import FleetSummary

LEVELS = ("az", "rack", "ultraserver", "node")
HEALTH_RANK = {"healthy": 0, "degraded": 1, "hung": 2, "failed": 3, "lost": 4, "down": 5}
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
STR = npt.NDArray[np.str_]


def problem_score(rank: npt.ArrayLike, throttled: npt.ArrayLike,
                  utilization: npt.ArrayLike) -> F64:
    """HEALTH's sort value: worse health, then throttled, then busier sorts higher."""
    return (np.asarray(rank, dtype=np.float64) * 10 + np.where(np.asarray(throttled) > 0, 5, 0)
            + np.minimum(np.asarray(utilization, dtype=np.float64), 1.0))


def short_name(level: str, key: str) -> str:
    """A group's name without the region prefix the whole fleet shares (fits NAME)."""
    if level == "rack":
        return key.split("-", 2)[-1]  # use2-az1-dc1-row01-rack01 -> dc1-row01-rack01
    if level == "ultraserver" and " (no UltraServer)" in key:
        return key.replace(" (no UltraServer)", "").split("-", 2)[-1] + " (no US)"
    return key


class FleetArrays:
    """Per-node columns of one summary, plus each grouping level's key per node."""

    def __init__(self, s: FleetSummary) -> None:
        nodes = s.nodes
        self.n = n = len(nodes)
        self.iid: STR = np.array([r.instance_id for r in nodes], dtype=str)
        self.kind: STR = np.array([r.location.instance_type for r in nodes], dtype=str)
        rack = [r.location.rack for r in nodes]
        us = [r.location.ultraserver for r in nodes]
        self.keys: dict[str, STR] = {
            "az": np.array([r.location.availability_zone for r in nodes], dtype=str),
            "rack": np.array(rack, dtype=str),
            "ultraserver": np.array([u or f"{k} (no UltraServer)" for u, k in zip(
                us, rack, strict=True)], dtype=str),
            "node": self.iid,
        }
        self.has_us = np.array([bool(u) for u in us], dtype=bool)
        self.where: STR = np.array([u or k.rsplit("-", 2)[-1] for u, k in zip(
            us, rack, strict=True)], dtype=str)
        self.region = nodes[0].location.region if nodes else ""

        def f(attr: str) -> F64:
            return np.fromiter((getattr(r, attr) for r in nodes), dtype=np.float64, count=n)

        self.util, self.power, self.temp = f("utilization"), f("power_watts"), f(
            "temperature_max_celsius")
        self.hbm_used, self.hbm_total = f("hbm_used_bytes"), f("hbm_total_bytes")
        self.chips, self.unhealthy, self.throttled = f("chips"), f("unhealthy_chips"), f(
            "throttled_chips")
        self.up = np.fromiter((r.up for r in nodes), dtype=bool, count=n)
        self.health: STR = np.array([r.health if r.up else "lost" for r in nodes], dtype=str)
        self.rank = np.fromiter((HEALTH_RANK.get(str(h), 1) for h in self.health),
                                dtype=np.int64, count=n)
        self.jobs_text: STR = np.array([",".join(map(str, r.job_ids)) or "idle"
                                        for r in nodes], dtype=str)
        self.job_count = np.fromiter((len(r.job_ids) for r in nodes), dtype=np.int64, count=n)
        self.pair_node = np.repeat(np.arange(n), self.job_count)
        self.pair_job = np.fromiter((j for r in nodes for j in r.job_ids), dtype=np.int64,
                                    count=int(self.job_count.sum()))
        self.score = problem_score(self.rank, self.throttled, self.util)
        hbm = self.hbm_used / np.maximum(self.hbm_total, 1.0)
        self.hbm_ratio = hbm
        # What a filter matches for a node: every column's text, lower case.
        self.search: STR = np.char.lower(np.char.add(np.char.add(np.char.add(
            np.char.add(self.iid, " "), self.kind), " "), np.char.add(
            np.char.add(self.where, " "), np.char.add(np.char.add(self.health, " "),
                                                      self.jobs_text))))


@dataclass
class FleetRows:
    """One level's rows in display order: keys, and the columns the cells are drawn from."""

    level: str
    keys: list[str]
    names: STR
    util: F64
    hbm: F64
    power: F64
    temp: F64
    bad: F64
    score: F64
    jobs: I64
    nodes: I64
    members: npt.NDArray[np.intp]  # node index -> its row here (-1: not shown)
    node_idx: I64  # the node of each row (groups: their first member)
    us_count: int = 0  # ultraserver level: rows that really are UltraServers

    def __len__(self) -> int:
        return len(self.keys)


SORT_COLUMNS = ("name", "util", "hbm", "power", "temp", "health", "jobs", "kind", "where")


def fleet_rows(a: FleetArrays, level: str, scope: list[tuple[str, str]], needle: str,
               sort_by: str, reverse: bool) -> FleetRows:
    """Select `scope`, group by `level`, filter by `needle`, sort: all on arrays."""
    mask = np.ones(a.n, dtype=bool)
    for lv, group in scope:
        mask &= a.keys[lv] == group
    sel = np.nonzero(mask)[0]
    members = np.full(a.n, -1, dtype=np.intp)
    if level == "node":
        if needle:
            sel = sel[np.char.find(a.search[sel], needle.lower()) >= 0]
        names = a.iid[sel]
        sort = {"name": names, "util": a.util[sel], "hbm": a.hbm_ratio[sel],
                "power": a.power[sel], "temp": a.temp[sel], "health": a.score[sel],
                "jobs": a.job_count[sel], "kind": a.kind[sel], "where": a.keys["rack"][sel]}
        order = _order(sort.get(sort_by, names), reverse)
        sel = sel[order]
        members[sel] = np.arange(len(sel))
        return FleetRows("node", names[order].tolist(), names[order], a.util[sel],
                         a.hbm_ratio[sel], a.power[sel], a.temp[sel],
                         a.unhealthy[sel], a.score[sel], a.job_count[sel],
                         np.ones(len(sel), dtype=np.int64), members, sel.astype(np.int64))
    keys, inverse = np.unique(a.keys[level][sel], return_inverse=True)
    ng = len(keys)

    def total(v: F64) -> F64:
        return np.bincount(inverse, weights=v[sel], minlength=ng).astype(np.float64)

    chips = total(a.chips)
    util = total(a.util * a.chips) / np.maximum(chips, 1)
    hbm = total(a.hbm_used) / np.maximum(total(a.hbm_total), 1)
    power = total(a.power)
    temp = np.full(ng, -np.inf)
    np.maximum.at(temp, inverse, a.temp[sel])
    bad = total(a.unhealthy) + total(np.where(a.up, 0.0, a.chips))
    throttled = total(a.throttled)
    nodes = np.bincount(inverse, minlength=ng).astype(np.int64)
    # Distinct jobs per group: unique (group, job) pairs.
    row_of_node = np.full(a.n, -1, dtype=np.int64)
    row_of_node[sel] = inverse
    pg = row_of_node[a.pair_node]
    keep = pg >= 0
    pairs = np.unique(pg[keep] * (int(a.pair_job.max(initial=0)) + 1) + a.pair_job[keep])
    jobs = np.bincount(pairs // (int(a.pair_job.max(initial=0)) + 1), minlength=ng).astype(
        np.int64)
    score = bad * 100 + np.where(throttled > 0, 5, 0) + util
    names = np.array([short_name(level, str(k)) for k in keys], dtype=str)
    if needle:
        hit = np.char.find(np.char.lower(np.char.add(np.char.add(keys.astype(str), " "),
                                                     names)), needle.lower()) >= 0
    else:
        hit = np.ones(ng, dtype=bool)
    idx = np.nonzero(hit)[0]
    sort = {"name": keys[idx], "util": util[idx], "hbm": hbm[idx], "power": power[idx],
            "temp": temp[idx], "health": score[idx], "jobs": jobs[idx], "kind": nodes[idx],
            "where": keys[idx]}
    idx = idx[_order(sort.get(sort_by, keys[idx]), reverse)]
    pos = np.full(ng, -1, dtype=np.intp)
    pos[idx] = np.arange(len(idx))
    members[sel] = pos[inverse]
    first = np.zeros(ng, dtype=np.int64)
    first[inverse[::-1]] = sel[::-1]  # the first member: it shares the group's AZ, US
    us_count = int(a.has_us[first[idx]].sum()) if level == "ultraserver" else 0
    return FleetRows(level, keys[idx].tolist(), names[idx], util[idx], hbm[idx], power[idx],
                     temp[idx], bad[idx], score[idx], jobs[idx], nodes[idx], members,
                     first[idx], us_count)


def _order(values: npt.NDArray[np.generic], reverse: bool) -> npt.NDArray[np.intp]:
    order = np.argsort(values, kind="stable")
    return order[::-1].copy() if reverse else order
