"""`promtool check metrics` (client_golang promlint) accepts every node's exposition."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.exporter.fleets import INF2, TRN1, TRN2U
from trnmon.exporter.render import NodeRenderer, render_self_metrics
from trnmon.snapshot import FleetSnapshot

PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool"
                                        if os.path.exists("/usr/bin/promtool") else None)
# AWS's own name, kept for drop-in compatibility with neuron-monitor-prometheus.py
# dashboards; promlint reserves the `_count` suffix for histograms and summaries.
ACCEPTED = {'system_vcpu_count non-histogram and non-summary metrics should not have '
            '"_count" suffix'}

if PROMTOOL is None and not os.environ.get("CI"):
    pytest.skip("promtool is not installed (it must be in CI)", allow_module_level=True)


def promtool_problems(text: str) -> set[str]:
    assert PROMTOOL is not None, "promtool is required in CI (apt-get install prometheus)"
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60, check=False)
    found = {line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip()}
    assert proc.returncode in (0, 3), f"promtool failed: {proc.stderr}"
    assert proc.returncode == 0 or found, "promtool exited 3 without naming a problem"
    return found


@pytest.mark.parametrize("node", [TRN2U, 1, 3, TRN1, INF2], ids=[
    "trn2u", "trn2u-mid", "trn2u-last", "trn1", "inf2"])
def test_busy_nodes_pass_promtool(tiny_snap: FleetSnapshot, node: int) -> None:
    assert promtool_problems(NodeRenderer().render(tiny_snap, node)) <= ACCEPTED


@pytest.mark.parametrize("node", [TRN2U, TRN1, INF2], ids=["trn2u", "trn1", "inf2"])
def test_idle_nodes_pass_promtool(idle_snap: FleetSnapshot, node: int) -> None:
    assert not idle_snap.jobs
    assert promtool_problems(NodeRenderer().render(idle_snap, node)) <= ACCEPTED


@pytest.mark.parametrize("node", [0, 1, 2], ids=["link-down", "hung-failed", "lost"])
def test_faulted_nodes_pass_promtool(faulted_snap: FleetSnapshot, node: int) -> None:
    assert promtool_problems(NodeRenderer().render(faulted_snap, node)) <= ACCEPTED


def test_only_the_aws_vcpu_count_name_is_flagged(tiny_snap: FleetSnapshot) -> None:
    """The accepted finding is real (so the allowance is not hiding a broken check)."""
    assert promtool_problems(NodeRenderer().render(tiny_snap, TRN2U)) == ACCEPTED


def test_self_metrics_pass_promtool(tiny_snap: FleetSnapshot) -> None:
    renderer = NodeRenderer()
    renderer.render(tiny_snap, TRN2U)
    assert not promtool_problems(render_self_metrics(tiny_snap, renderer))
