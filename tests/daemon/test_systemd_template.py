"""daemon/trnmon@.service: one shard per instance (`trnmon@2-4.service` runs shard 2 of
4), the same hardening as trnmon.service (security rating <= 2.0), `verify` clean; and
the scale presets shard with no config file."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trnmon.config.load import load_config
from trnmon.daemon.settings import resolve
from trnmon.sim.cells import shard_topology

DAEMON = Path(__file__).parents[2] / "daemon"
TEMPLATE = DAEMON / "trnmon@.service"
ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")

SANDBOX = re.compile(r"^(Protect|Private|Restrict|Capability|NoNewPrivileges|SystemCall|"
                     r"IPAddress|Memory|Lock|Keyring|Device|Remove|Ambient|UMask|Dynamic|"
                     r"Watchdog|Type|Notify|Restart|Timeout|ProcSubset|Environment=)", re.M)


def _hardening(text: str) -> list[str]:
    return [line for line in text.splitlines() if SANDBOX.match(line)]


def test_template_has_the_single_units_hardening() -> None:
    single, template = (DAEMON / "trnmon.service").read_text(), TEMPLATE.read_text()
    assert _hardening(template) == _hardening(single)
    assert "--shard %i" in template and "StateDirectory=trnmon/%i" in template
    assert "--state-dir /var/lib/trnmon/%i" in template and "--listen ${LISTEN}" in template


def test_instance_name_is_the_shard() -> None:
    cfg = load_config(preset_name="tiny", environ={}, overrides={})
    assert resolve(cfg, shard="2-4", environ={}).shard == (2, 4)
    assert resolve(cfg, shard="2/4", environ={}).shard == (2, 4)


# 2/3 of 3 cells (264 racks) = cell 1, 264 UltraServers; 2/4 of 63 cells (125 racks) =
# cells 15-30.
@pytest.mark.parametrize("preset,shard,nodes", [("ultracluster-40k", (2, 3), 1_056),
                                                ("rainier-500k", (2, 4), 7_998)])
def test_scale_presets_shard_without_a_config_file(preset: str, shard: tuple[int, int],
                                                   nodes: int) -> None:
    cfg = load_config(preset_name=preset, environ={}, overrides={})
    assert cfg.cell_racks is not None
    topo = shard_topology(cfg, shard)
    assert topo.n_nodes == nodes


@needs_systemd
def test_verify_an_instance(tmp_path: Path) -> None:
    # As for trnmon.service: verify needs ExecStart's binary and the environment file.
    (tmp_path / "2-4.env").write_text("LISTEN=127.0.0.1:9466\n")
    text = re.sub(r"^ExecStart=/usr/local/bin/trnmon ", f"ExecStart={sys.executable} -m trnmon ",
                  TEMPLATE.read_text(), flags=re.M)
    text = text.replace("EnvironmentFile=/etc/trnmon/%i.env",
                        f"EnvironmentFile={tmp_path}/%i.env")
    (tmp_path / "trnmon@.service").write_text(text)
    r = subprocess.run([str(ANALYZE), "verify", str(tmp_path / "trnmon@2-4.service")],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "trnmon@" not in r.stderr, r.stderr


@needs_systemd
def test_security_rating() -> None:
    r = subprocess.run([str(ANALYZE), "security", "--offline=yes", str(TEMPLATE)],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for trnmon@\S*\.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0
