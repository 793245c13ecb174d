"""A Prometheus (the global layer of a sharded fleet) as a neuron-top source.

Every `interval` a thread runs a handful of instant queries (`/api/v1/query`) against the
URL and builds a FleetSummary from what the federation set (trnmon/dashboards/federation.py)
carries: `up` and the per-node aggregates for the fleet table, per-device series for the
heatmap, `neuron_job_*` for the jobs view. A node whose `up` is 0 (its shard's daemon is
gone) shows as down. Node drill-down queries every series of that instance the server
holds: against a federating global Prometheus that is the federated subset; against a
shard's (or a single) Prometheus it is the whole exposition. When the server is
unreachable the last summary stays, the header says so and the thread retries with
backoff, as RemoteSource does.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from typing import Any

import numpy as np

from trnmon.api.models import (
    DeviceDetail,
    EfaDevice,
    FleetSummary,
    FleetTotals,
    Heatmap,
    HistorySeries,
    HostDetail,
    JobModel,
    Location,
    NodeDetail,
    NodeRow,
)
from trnmon.exporter import names
from trnmon.exporter.names import SCRAPE_JOB
from trnmon.hw.catalog import INSTANCE_TYPE_BY_NAME, efa_device_bandwidth
from trnmon.hw.lnc import core_numbering
from trnmon.sources.network import NetworkSource

REQUEST_TIMEOUT_S = 10.0
NODE_QUERIES = {
    "chips": names.NODE_DEVICES,
    "busy": names.NODE_BUSY,
    "unhealthy": names.NODE_UNHEALTHY,
    "throttled": names.NODE_THROTTLED,
    "util": names.NODE_UTILIZATION,
    "hbm_used": names.NODE_HBM_USED,
    "hbm_total": names.NODE_HBM_TOTAL,
    "power": names.NODE_POWER,
    "temp": names.NODE_TEMPERATURE,
}
DEVICE_QUERIES = {
    "util": names.DEVICE_UTILIZATION,
    "power": "neuron_device_power_watts",
    "hbm_used": "neuron_device_hbm_used_bytes",
    "hbm_total": "neuron_device_hbm_total_bytes",
    "temp": "neuron_device_temperature_celsius",
}
LOCATION_KEYS = ("region", "availability_zone", "availability_zone_id", "datacenter", "row",
                 "rack", "ultraserver", "instance_type")

Vector = list[dict[str, Any]]


class PrometheusError(OSError):
    pass


class PrometheusSource(NetworkSource):
    KIND = "prometheus"

    def __init__(self, url: str, *, interval: float = 2.0) -> None:
        super().__init__(url)
        self.interval = interval
        self._polls = 0

    def _serve(self) -> None:
        """Poll every `interval` until a query fails (NetworkSource then backs off)."""
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)

    def poll(self) -> FleetSummary:
        """Fetch one summary and publish it (the thread's loop body; tests call it)."""
        summary = self.fetch_summary()
        self._connected, self._error = True, ""
        self._publish(summary)
        return summary

    # --- PromQL ------------------------------------------------------------------------
    def query(self, promql: str) -> Vector:
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT_S) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise PrometheusError(f"HTTP {exc.code} for {promql}") from None
        if body.get("status") != "success" or body["data"]["resultType"] != "vector":
            raise PrometheusError(f"query failed: {body.get('error', body.get('status'))}")
        result: Vector = body["data"]["result"]
        return result

    def _by_node(self, promql: str) -> dict[str, float]:
        return {r["metric"].get("instance_id", ""): float(r["value"][1])
                for r in self.query(promql)}

    # --- the summary -------------------------------------------------------------------
    def fetch_summary(self) -> FleetSummary:
        up = self.query(f'up{{job="{SCRAPE_JOB}"}}')
        now = max((float(r["value"][0]) for r in up), default=time.time())
        nodes = {}
        for r in up:
            m = r["metric"]
            iid = m.get("instance_id") or m.get("instance", "")
            nodes[iid] = (m, float(r["value"][1]) == 1.0)
        # Topology order as far as labels tell it: zone, rack (labels sort in rack order),
        # UltraServer, then instance id.
        order = sorted(nodes, key=lambda i: (nodes[i][0].get("availability_zone_id", ""),
                                             nodes[i][0].get("rack", ""),
                                             nodes[i][0].get("ultraserver", ""), i))
        cols = {k: self._by_node(q) for k, q in NODE_QUERIES.items()}
        dev: dict[str, dict[tuple[str, int], float]] = {}
        for k, q in DEVICE_QUERIES.items():
            dev[k] = {(r["metric"].get("instance_id", ""), int(r["metric"]["neuron_device"])):
                      float(r["value"][1]) for r in self.query(q)
                      if r["metric"].get("neuron_device", "").isdigit()}
        jobs = self._jobs(order)
        jobs_by_node: dict[str, list[int]] = defaultdict(list)
        for j in jobs:
            for iid in j.instance_ids:
                jobs_by_node[iid].append(j.job_id)

        rows, heat = [], defaultdict(list)
        region = ""
        for n, iid in enumerate(order):
            labels, is_up = nodes[iid]
            itype = INSTANCE_TYPE_BY_NAME.get(labels.get("instance_type", ""))
            chips = int(cols["chips"].get(iid, itype.chips if itype else 0))
            region = region or labels.get("region", "")

            def c(key: str, _iid: str = iid, _up: bool = is_up) -> float:
                return cols[key].get(_iid, 0.0) if _up else 0.0

            unhealthy = int(c("unhealthy")) if is_up else chips
            rows.append(NodeRow(
                node=n, instance_id=iid, location=_location(labels), up=is_up, chips=chips,
                busy_chips=int(c("busy")), unhealthy_chips=unhealthy,
                throttled_chips=int(c("throttled")), utilization=c("util"),
                hbm_used_bytes=c("hbm_used"), hbm_total_bytes=cols["hbm_total"].get(iid, 0.0),
                power_watts=c("power"), temperature_max_celsius=c("temp"),
                health="healthy" if is_up and not unhealthy else ("lost" if not is_up
                                                                   else "failed"),
                job_ids=sorted(jobs_by_node.get(iid, []))))
            max_w = _max_watts(itype)
            for d in range(chips):
                key = (iid, d)
                live = is_up and key in dev["power"]
                heat["utilization"].append(dev["util"].get(key, 0.0) if live else 0.0)
                total = dev["hbm_total"].get(key, 0.0)
                heat["hbm"].append(dev["hbm_used"].get(key, 0.0) / total if live and total
                                   else 0.0)
                heat["temperature"].append(dev["temp"].get(key, 0.0) if live else 0.0)
                heat["power"].append(dev["power"].get(key, 0.0) / max_w if live else 0.0)
        up_rows = [r for r in rows if r.up]
        chips_up = sum(r.chips for r in up_rows)
        totals = FleetTotals(
            nodes=len(rows), nodes_up=len(up_rows), chips=sum(r.chips for r in rows),
            busy_chips=sum(r.busy_chips for r in rows),
            unhealthy_chips=sum(r.unhealthy_chips for r in rows),
            throttled_chips=sum(r.throttled_chips for r in rows),
            utilization=(sum(r.utilization * r.chips for r in up_rows) / chips_up
                         if chips_up else 0.0),
            hbm_used_bytes=sum(r.hbm_used_bytes for r in rows),
            hbm_total_bytes=sum(r.hbm_total_bytes for r in rows),
            power_watts=sum(r.power_watts for r in rows), jobs=len(jobs), queued_jobs=0,
            active_faults=0)
        self._polls += 1
        return FleetSummary(
            source="prometheus", fleet=urllib.parse.urlparse(self.url).netloc, region=region,
            tick=self._polls, t=now, wall_time=now, tick_duration_seconds=0.0, totals=totals,
            nodes=rows, heatmap=Heatmap.encode({k: np.asarray(v, dtype=np.float32)
                                                for k, v in heat.items()})
            if heat else Heatmap(chips=0, values={}),
            jobs=jobs, queued=[], faults=[], events=[])

    def _jobs(self, order: list[str]) -> list[JobModel]:
        index = {iid: n for n, iid in enumerate(order)}
        info: dict[int, dict[str, Any]] = {}
        for r in self.query("neuron_job_info"):
            m = r["metric"]
            if not m.get("job_id", "").isdigit():
                continue
            j = info.setdefault(int(m["job_id"]), {"labels": m, "iids": []})
            j["iids"].append(m.get("instance_id", ""))
        vals = {k: {int(r["metric"]["job_id"]): float(r["value"][1])
                    for r in self.query(q) if r["metric"].get("job_id", "").isdigit()}
                for k, q in (("step", "neuron_job_step_seconds"), ("mfu", "neuron_job_mfu_ratio"),
                             ("tokens", "neuron_job_tokens_total"),
                             ("rate", names.JOB_TOKENS_RATE),
                             ("restarts", names.JOB_RESTARTS))}
        out = []
        for job_id in sorted(info):
            m, iids = info[job_id]["labels"], sorted(info[job_id]["iids"],
                                                     key=lambda i: index.get(i, 1 << 30))
            itype = INSTANCE_TYPE_BY_NAME.get(m.get("instance_type", ""))
            chips = (itype.chips if itype is not None else 0) * len(iids)
            out.append(JobModel(
                job_id=job_id, name=m.get("job_name", ""), kind=m.get("job_kind", ""),
                model=m.get("model", ""), state="running", instance_ids=iids,
                nodes=[index[i] for i in iids if i in index], chips=chips,
                step_seconds=vals["step"].get(job_id, 0.0),
                tokens_per_second=vals["rate"].get(job_id, 0.0),
                tokens_total=vals["tokens"].get(job_id, 0.0), mfu=vals["mfu"].get(job_id, 0.0),
                steps=0.0, progress=0.0, restarts=int(vals["restarts"].get(job_id, 0)),
                started_at=0.0, submitted_at=0.0))
        return out

    # --- on demand -----------------------------------------------------------------------
    def node_detail(self, node: int | str) -> NodeDetail | None:
        latest = self.latest()
        if latest is None:
            return None
        rows = latest.nodes
        row = (rows[node] if isinstance(node, int) and 0 <= node < len(rows)
               else next((r for r in rows if r.instance_id == node), None))
        if row is None:
            return None
        try:
            series = self.query(f'{{instance_id="{row.instance_id}"}}')
        except (OSError, ValueError, KeyError):
            return None
        return node_detail_from_series(row, series, tick=latest.tick, t=latest.t,
                                       jobs=[j for j in latest.jobs
                                             if row.instance_id in j.instance_ids])

    def history(self, scope: str) -> HistorySeries | None:
        return None  # range queries are Grafana's job; neuron-top shows the present


def _location(labels: dict[str, str]) -> Location:
    return Location(**{k: labels.get(k, "") for k in LOCATION_KEYS})


def _max_watts(itype: Any) -> float:
    return float(itype.chip_spec.max_watts) if itype is not None else 1.0


def node_detail_from_series(row: NodeRow, series: Vector, *, tick: int, t: float,
                            jobs: list[JobModel]) -> NodeDetail:
    """A NodeDetail from whatever series of the node the server holds (zeros elsewhere)."""
    itype = INSTANCE_TYPE_BY_NAME.get(row.location.instance_type)
    per_dev: dict[int, dict[str, float]] = defaultdict(dict)
    health: dict[int, str] = {}
    host: dict[str, float] = {}
    efa: dict[str, dict[str, float]] = defaultdict(dict)  # EFA device name -> metric -> value
    for r in series:
        m, v = r["metric"], float(r["value"][1])
        name = m.get("__name__", "")
        d = m.get("neuron_device", "")
        if m.get("efa_device"):
            efa[m["efa_device"]][name] = v
        elif d.isdigit():
            dev = per_dev[int(d)]
            if name == "neuron_device_health_state" and v == 1.0:
                health[int(d)] = m.get("state", "healthy")
            elif name == "neuron_device_clock_ratio":
                dev["clock"] = v
            else:
                dev[name] = v
        elif name in ("system_memory_used_bytes", "system_memory_total_bytes",
                      "neuron_efa_tx_bytes_total", "neuron_efa_rx_bytes_total"):
            host[name] = v
        elif name == "system_vcpu_usage_ratio":
            host[f"vcpu_{m.get('usage_type', '')}"] = v
    n_dev = itype.chips if itype is not None else len(per_dev)
    numbering = core_numbering(itype.chip_spec, 2) if itype is not None else None
    devices = []
    for d in range(n_dev):
        vals = per_dev.get(d, {})
        devices.append(DeviceDetail(
            device=d, chip=-1, chip_name=itype.chip_spec.name if itype else "",
            health=health.get(d, "healthy" if row.up else "lost"),
            throttled=bool(vals.get("neuron_device_throttled", 0.0)),
            clock_ratio=vals.get("clock", 1.0),
            temperature_celsius=vals.get("neuron_device_temperature_celsius", 0.0),
            power_watts=vals.get("neuron_device_power_watts", 0.0),
            energy_joules=vals.get("neuron_device_energy_joules_total", 0.0),
            utilization=vals.get(names.DEVICE_UTILIZATION, 0.0),
            hbm_used_bytes={"tensors": vals.get("neuron_device_hbm_used_bytes", 0.0)},
            hbm_total_bytes=vals.get("neuron_device_hbm_total_bytes", 0.0),
            hbm_bandwidth_utilization=vals.get("neuron_device_hbm_bandwidth_utilization_ratio",
                                            0.0),
            cores=[], logical_cores=[], ecc={}, execution_status={}, execution_errors={},
            latency_seconds={}, links=[], job_id=row.job_ids[0] if row.job_ids else 0))
    return NodeDetail(
        tick=tick, t=t, node=row.node, instance_id=row.instance_id, location=row.location,
        up=row.up, lnc=2, core_version=numbering.version_label if numbering else "",
        logical_cores_per_device=numbering.logical_per_chip if numbering else 0,
        host=HostDetail(vcpus=itype.vcpus if itype else 0,
                        vcpu_user_ratio=host.get("vcpu_user", 0.0),
                        vcpu_system_ratio=host.get("vcpu_system", 0.0),
                        runtime_vcpu_user_ratio=0.0, runtime_vcpu_system_ratio=0.0,
                        memory_total_bytes=host.get("system_memory_total_bytes", 0.0),
                        memory_used_bytes=host.get("system_memory_used_bytes", 0.0),
                        efa_tx_bytes=host.get("neuron_efa_tx_bytes_total", 0.0),
                        efa_rx_bytes=host.get("neuron_efa_rx_bytes_total", 0.0)),
        devices=devices, jobs=jobs, efa=_efa_devices(efa, itype))


def _efa_devices(efa: dict[str, dict[str, float]], itype: Any) -> list[EfaDevice]:
    """The node's EFA devices from their series (in the exposition's order: by name's bus)."""
    per = efa_device_bandwidth(itype) if itype is not None else 0.0
    names_ = sorted(efa, key=lambda n: (len(n), n))  # rdmap16s27 before rdmap104s27
    return [EfaDevice(index=i, name=n,
                      state="up" if efa[n].get("neuron_efa_device_up", 1.0) else "down",
                      bandwidth_bytes_per_second=per,
                      tx_bytes=efa[n].get("neuron_efa_device_tx_bytes_total", 0.0),
                      rx_bytes=efa[n].get("neuron_efa_device_rx_bytes_total", 0.0),
                      errors=efa[n].get("neuron_efa_device_errors_total", 0.0))
            for i, n in enumerate(names_)]
