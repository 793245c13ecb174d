"""The shipped rule files pass `promtool check rules`, and every alert passes promtool unit
tests that make it fire and that must leave it silent."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from promtool_cases import CASES, promtool_tests

from trnmon.dashboards import federation, rules
from trnmon.dashboards.yamltext import dump

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "dashboards" / "prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def _promtool(*args: str, cwd: Path | None = None) -> str:
    # No skip when promtool is missing: .ci/run installs it, so absence is a CI failure.
    assert Path(PROMTOOL).exists(), "promtool missing: install the Debian package prometheus"
    r = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120,
                       cwd=cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_shipped_rule_files_pass_promtool_check() -> None:
    out = _promtool("check", "rules", str(RULES_DIR / "recording.yml"),
                    str(RULES_DIR / "alerts.yml"))
    assert f"SUCCESS: {len(rules.RECORDINGS)} rules found" in out
    assert f"SUCCESS: {len(rules.alert_rules())} rules found" in out


def test_shipped_prometheus_config_passes_promtool_check() -> None:
    _promtool("check", "config", str(RULES_DIR / "prometheus.yml"))


def test_every_shipped_prometheus_file_passes_promtool_check() -> None:
    for config in ("shard.yml", "global.yml", "receiver.yml"):
        _promtool("check", "config", str(RULES_DIR / config))
    out = _promtool("check", "config", "--agent", str(RULES_DIR / "agent.yml"))
    assert "SUCCESS" in out
    out = _promtool("check", "rules", str(RULES_DIR / "node-rules.yml"))
    assert f"SUCCESS: {len(federation.NODE_RULES)} rules found" in out
    shipped = {p.name for p in RULES_DIR.glob("*.yml")}
    assert shipped == {"prometheus.yml", "shard.yml", "global.yml", "receiver.yml",
                       "agent.yml", "recording.yml", "alerts.yml", "node-rules.yml"}


def test_every_alert_has_firing_and_silent_cases() -> None:
    firing = {c[0] for c in CASES if c[4]}
    silent = {c[0] for c in CASES if not c[4]}
    names = {a.alert for a in rules.alert_rules()}
    assert firing == names and silent == names


def test_promtool_unit_tests(tmp_path: Path) -> None:
    # The shipped recording rules as they are; the alerts without annotation text, which
    # promtool would otherwise compare verbatim.
    shutil.copy(RULES_DIR / "recording.yml", tmp_path / "recording.yml")
    (tmp_path / "alerts.yml").write_text(
        dump(rules.alert_groups(rules.alert_rules(), annotations=False)))
    (tmp_path / "tests.yml").write_text(dump({
        "rule_files": ["recording.yml", "alerts.yml"], "evaluation_interval": "1m",
        "tests": promtool_tests()}))
    _promtool("test", "rules", "tests.yml", cwd=tmp_path)
