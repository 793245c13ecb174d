"""Alerts reach a person: daemon -> Prometheus -> Alertmanager -> webhook, all real.

The shipped dashboards/alertmanager/alertmanager.yml passes `amtool check-config` and
routes by severity (`amtool config routes test`). Its inhibition is checked against a real
Alertmanager fed the way Prometheus feeds it. Then the whole path: a daemon (tiny fleet,
clock SPEED x faster), Prometheus with the shipped recording rules and a copy of the alerts
whose ranges and `for:` are divided by SPEED, an Alertmanager running the shipped config
with only the webhook URL and group timings shortened, and a local webhook receiver. Every
fault kind is injected through the control API; exactly the expected notifications arrive
(one per alert group, inhibited ones never), each resolves after its fault is cleared, and
the time from injection to notification is measured and printed.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest_alertmanager import AMTOOL, Alertmanager, Notification, WebhookReceiver
from tests.conftest_daemon import DaemonProcess
from tests.conftest_prometheus import PROMETHEUS, Prometheus
from trnmon.dashboards import alertmanager, files, rules
from trnmon.dashboards.yamltext import dump, load
from trnmon.topology import PORT_NAMES

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "dashboards" / "alertmanager" / "alertmanager.yml"
SPEED = 50.0
# group_wait covers the skew between targets: each is scraped at its own offset within the
# 1 s interval and rules run on their own 1 s clock, so one incident's alerts can reach
# Alertmanager ~2 s apart (in production: up to a scrape plus an evaluation interval). On
# a loaded CI host scrapes and evaluations slip by seconds more: 3 s once split the two
# storms of one UltraServer into two firing notifications, and 8 s did on a host running
# three CPU-bound processes on two cores, so allow for that slip too.
GROUP_WAIT_S = 12
FAST = {"group_wait": f"{GROUP_WAIT_S}s", "group_interval": "2s", "repeat_interval": "1h"}
TIMEOUT_S = 60.0


def _test_config(webhook: str) -> Any:
    """The shipped file with the webhook and group timings replaced, nothing else."""
    cfg = load(SHIPPED.read_text())
    assert cfg == load(dump(alertmanager.config()))  # the shipped file is the generated one
    cfg["route"].update(FAST)
    for route in cfg["route"]["routes"]:
        route.update(FAST)
    for r in cfg["receivers"]:
        for w in r["webhook_configs"]:
            w["url"] = w["url"].replace(alertmanager.WEBHOOK_URL, webhook)
    return cfg


def test_amtool_check_config() -> None:
    r = subprocess.run([AMTOOL, "check-config", str(SHIPPED)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr
    assert "2 inhibit rules" in r.stdout and "2 receivers" in r.stdout


@pytest.mark.parametrize("severity", ["critical", "warning"])
def test_routes_by_severity(severity: str) -> None:
    r = subprocess.run([AMTOOL, "config", "routes", "test", f"--config.file={SHIPPED}",
                        "alertname=NeuronLinkDown", f"severity={severity}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"trnmon-{severity}"


def _alert(name: str, **labels: str) -> dict[str, Any]:
    sev = next(a.severity for a in rules.alert_rules() if a.alert == name)
    return {"labels": {"alertname": name, "severity": sev, **labels}}


def _wait(hook: WebhookReceiver, ok: Any, timeout: float = TIMEOUT_S) -> list[Notification]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = hook.snapshot()
        if ok(got):
            return got
        time.sleep(0.2)
    raise AssertionError("notifications never matched: "
                         + json.dumps([n.body for n in hook.snapshot()])[-3000:])


@pytest.mark.slow
def test_inhibition_in_a_real_alertmanager(tmp_path: Path) -> None:
    """Node down silences its device and link alerts, not another node's; an UltraServer
    incident silences its nodes' alerts."""
    hook = WebhookReceiver()
    am = Alertmanager(tmp_path / "am", _test_config(hook.url)).start()
    try:
        loc = {"availability_zone": "us-east-2a", "rack": "r1", "ultraserver": "us-1"}
        am.post_alerts([
            _alert("NeuronNodeDown", instance_id="i-a", **loc),
            _alert("NeuronLinkDown", instance_id="i-a", neuron_device="3", link="0", **loc),
            _alert("NeuronDeviceHung", instance_id="i-a", neuron_device="1", **loc),
            _alert("NeuronLinkDown", instance_id="i-b", neuron_device="5", link="1",
                   availability_zone="us-east-2a", rack="r2"),
            _alert("NeuronUltraServerDown", availability_zone="us-east-2a", rack="r3",
                   ultraserver="us-3"),
            *[_alert("NeuronNodeDown", instance_id=i, availability_zone="us-east-2a",
                     rack="r3", ultraserver="us-3") for i in ("i-c", "i-d")],
        ])
        got = _wait(hook, lambda n: len(n) >= 3)
        time.sleep(GROUP_WAIT_S + 2)  # anything not inhibited would have arrived by now
        got = hook.snapshot()
        seen = sorted((n.alertname, tuple(sorted(a["instance_id"] if "instance_id" in a
                                                 else a["ultraserver"]
                                                 for a in n.alerts())))
                      for n in got)
        assert seen == [("NeuronLinkDown", ("i-b",)), ("NeuronNodeDown", ("i-a",)),
                        ("NeuronUltraServerDown", ("us-3",))]
        assert all(n.path == "/alerts/critical" for n in got)
    finally:
        am.stop()
        hook.close()


# --- the whole path --------------------------------------------------------------------
class Stack:
    def __init__(self, tmp: Path) -> None:
        self.hook = WebhookReceiver()
        self.am = Alertmanager(tmp / "am", _test_config(self.hook.url))
        self.daemon = DaemonProcess(tmp / "state", "--seed", "1", "--speed", str(SPEED),
                                    env={"TRNMON_WORKLOAD__ARRIVALS_PER_HOUR": "0"})
        self.prom: Prometheus | None = None
        self.tmp = tmp

    def start(self) -> Stack:
        self.am.start()
        self.daemon.start()
        alerts = self.tmp / "alerts-fast.yml"
        alerts.write_text(dump(rules.alert_groups(rules.scaled(rules.alert_rules(), SPEED))))
        prom = Prometheus(self.tmp / "prometheus", "")
        prom.config.write_text(dump(files.prometheus_config(
            sd_url=self.daemon.url + "/sd", daemon_target=f"127.0.0.1:{self.daemon.port}",
            interval="1s", alertmanager=f"127.0.0.1:{self.am.port}",
            rule_files=(str(ROOT / "dashboards/prometheus/recording.yml"), str(alerts)))))
        # Resend firing alerts every second (default 1m) so Alertmanager hears at once.
        prom.extra_args = ["--rules.alert.resend-delay=1s"]
        self.prom = prom.start()
        return self

    def stop(self) -> None:
        if self.prom is not None:
            self.prom.stop()
        self.daemon.kill()
        self.am.stop()
        self.hook.close()

    def inject(self, kind: str, node: str, device: int = 0) -> tuple[int, float]:
        body: dict[str, Any] = {"kind": kind, "instance_id": node, "device": device}
        if kind.startswith("link_"):
            body["port"] = self.link(node, device)[0]
        status, _, raw = self.daemon.request("POST", "/api/v1/faults", body, token=True)
        assert status == 201, raw
        return int(json.loads(raw)["fault_id"]), time.monotonic()

    def link(self, node: str, dev: int) -> tuple[int, tuple[str, str]]:
        """The device's first NeuronLink port in the exposition and its far end."""
        assert self.prom is not None
        r = self.prom.query(f'neuronlink_state{{instance_id="{node}", '
                            f'neuron_device="{dev}", state="up"}}')[0]["metric"]
        return PORT_NAMES.index(r["link"]), (r["peer_instance_id"], r["peer_device"])

    def clear(self, fault_id: int, *, replaced_ok: bool = False) -> None:
        """Clear a fault; with `replaced_ok` it may already be gone: clearing an earlier
        hard fault on its node replaced the node, and every fault on it with it."""
        status, _, raw = self.daemon.request("DELETE", f"/api/v1/faults/{fault_id}",
                                             token=True)
        assert status == 200 or (replaced_ok and status == 404 and b"no active fault" in raw), raw

    def instance_ids(self) -> list[str]:
        """The nodes' current instance ids, once Prometheus scrapes all of them (a replaced
        node is a new instance, and a new target: the shipped config refreshes /sd every
        minute)."""
        ids = [t["labels"]["instance"] for t in self.daemon.get_json("/sd")]
        assert self.prom is not None
        self.prom.wait_for('up{job="trnmon-nodes"} == 1', lambda r: {
            x["metric"]["instance"] for x in r} >= set(ids), timeout=120.0)
        return ids


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    assert Path(PROMETHEUS).exists(), "prometheus missing: install the Debian package"
    s = Stack(tmp_path_factory.mktemp("delivery"))
    try:
        yield s.start()
    finally:
        s.stop()


def _by_alert(notes: list[Notification], name: str) -> list[Notification]:
    return [n for n in notes if n.alertname == name]


def _fired_and_resolved(hook: WebhookReceiver, want: dict[str, set[tuple[str, str]]],
                        since: int) -> Any:
    """Wait until every alert in `want` has one firing and one resolved notification."""
    def ok(notes: list[Notification]) -> bool:
        new = notes[since:]
        return all([n.status for n in _by_alert(new, a)][-1:] == ["resolved"]
                   for a in want)
    return ok


DELIVERY: dict[str, float] = {}  # alert -> seconds from injection to notification


def _phase(stack: Stack, faults: list[tuple[str, str, int]],
           want: dict[str, set[tuple[str, str]]], *, silent: tuple[str, ...] = ()) -> None:
    """Inject faults, wait for `want` (alert -> {(instance_id, device)} in ONE firing
    notification each), clear them, wait for each alert's resolved notification."""
    hook = stack.hook
    since = len(hook.snapshot())
    ids, t0 = [], time.monotonic()
    for kind, node, dev in faults:
        ids.append(stack.inject(kind, node, dev)[0])

    def fired(notes: list[Notification]) -> bool:
        return all(_by_alert(notes[since:], a) for a in want)

    notes = _wait(hook, fired)
    for a in want:
        DELIVERY[a] = round(_by_alert(notes[since:], a)[0].at - t0, 1)
    for fid in ids:
        stack.clear(fid, replaced_ok=True)
    notes = _wait(hook, _fired_and_resolved(hook, want, since), timeout=90)[since:]
    for a, labels in want.items():
        mine = _by_alert(notes, a)
        assert [n.status for n in mine] == ["firing", "resolved"], (a, [n.body for n in mine])
        got = {(x["instance_id"], x.get("neuron_device", "")) for x in mine[0].alerts()}
        assert got == labels, (a, got)
    others = {n.alertname for n in notes} - set(want) - {"NeuronJobRestarted"}
    assert not others, f"unexpected notifications: {others}"
    for a in silent:
        assert not _by_alert(notes, a), a


@pytest.mark.slow
def test_every_fault_kind_notifies_once_per_group_and_resolves(stack: Stack) -> None:
    daemon = stack.daemon
    n0, n1, n2, n3, n4, n5 = [t["labels"]["instance"] for t in daemon.get_json("/sd")]
    stack.prom.wait_for('up{job="trnmon-nodes"} == 1', lambda r: len(r) == 6)  # type: ignore[union-attr]
    time.sleep(3)
    assert not stack.hook.snapshot(), "a healthy fleet notified"

    def peer(node: str, dev: int) -> tuple[str, str]:
        return stack.link(node, dev)[1]

    # Device and link faults, each alert kind once; both ends of a link are one group,
    # and two storms in one UltraServer are one notification.
    _phase(stack, [("link_down", n4, 0), ("link_degraded", n5, 0), ("thermal_throttle", n2, 9),
                   ("hbm_ecc_corrected", n2, 2), ("sram_ecc_corrected", n3, 3),
                   ("chip_hang", n1, 4)], {
        "NeuronLinkDown": {(n4, "0"), peer(n4, 0)},
        "NeuronLinkDegraded": {(n5, "0"), peer(n5, 0)},
        "NeuronDeviceThermalThrottling": {(n2, "9")},
        "NeuronCorrectableECCStorm": {(n2, "2"), (n3, "3")},
        "NeuronDeviceHung": {(n1, "4")},
    })
    # Uncorrectable errors (they crash the job on the device; it restarts once cleared).
    _phase(stack, [("hbm_ecc_uncorrected", n5, 1), ("sram_ecc_uncorrected", n5, 2)],
           {"NeuronUncorrectableECC": {(n5, "1"), (n5, "2")}})
    # Failed devices without ECC errors (a faulty chip, a detected SDC): one group.
    _phase(stack, [("chip_failure", n4, 5), ("silent_data_corruption", n4, 6)],
           {"NeuronDeviceFailed": {(n4, "5"), (n4, "6")}})
    # Clearing those hard faults replaced n4 and n5 with new instances: new ids from here.
    n0, n1, n2, n3, n4, n5 = stack.instance_ids()
    # One node down.
    _phase(stack, [("node_loss", n4, 0)], {"NeuronNodeDown": {(n4, "")}})
    # Two of the UltraServer's nodes: one UltraServer notification, no node-down ones.
    since = len(stack.hook.snapshot())
    t0 = time.monotonic()
    ids = [stack.inject("node_loss", n, 0)[0] for n in (n0, n1)]
    notes = _wait(stack.hook, lambda ns: bool(_by_alert(ns[since:], "NeuronUltraServerDown")))
    DELIVERY["NeuronUltraServerDown"] = round(
        _by_alert(notes[since:], "NeuronUltraServerDown")[0].at - t0, 1)
    time.sleep(4)  # node-down would fire 2 s (scaled) after it: it must stay inhibited
    # The two nodes come back a scrape apart; the UltraServer alert's keep_firing_for
    # (5m/50) keeps the straggler's node-down inhibited through that gap.
    for fid in ids:
        stack.clear(fid)
    notes = _wait(stack.hook, lambda ns: [n.status for n in _by_alert(
        ns[since:], "NeuronUltraServerDown")] == ["firing", "resolved"])[since:]
    assert not _by_alert(notes, "NeuronNodeDown"), [n.body for n in notes]
    us = _by_alert(notes, "NeuronUltraServerDown")[0].alerts()
    assert len(us) == 1 and us[0]["rack"] and us[0]["ultraserver"]

    # Restarts: exactly the jobs whose restart counter rose are notified.
    def restarted() -> set[str]:
        return {str(j["job_id"]) for j in daemon.get_json("/api/v1/jobs")["jobs"]
                if j["restarts"]}
    notes = _wait(stack.hook, lambda ns: restarted() and {
        a["job_id"] for n in _by_alert(ns, "NeuronJobRestarted") for a in n.alerts("firing")
    } >= restarted())
    assert {a["job_id"] for n in _by_alert(notes, "NeuronJobRestarted")
            for a in n.alerts("firing")} == restarted()
    # The README's delivery table is this line (run with -s to see it).
    print("inject->notification seconds at speed", SPEED, json.dumps(DELIVERY, sort_keys=True))
