from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trnmon.cli import main
from trnmon.config import load_config
from trnmon.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "fleet.toml"
    p.write_text(text)
    return p


def test_defaults_are_ohio() -> None:
    cfg = load_config(environ={})
    assert cfg.name == "ohio" and cfg.lnc == 2 and cfg.region == "us-east-2"


def test_precedence_cli_over_env_over_file_over_preset(tmp_path: Path) -> None:
    f = _write(tmp_path, 'preset = "tiny"\nseed = 1\ntick_seconds = 2.0\n'
                         '[faults]\nrate_multiplier = 3.0\n')
    cfg = load_config(config_file=f, environ={})
    assert (cfg.name, cfg.seed, cfg.tick_seconds, cfg.faults.rate_multiplier) == (
        "tiny", 1, 2.0, 3.0)
    env = {"TRNMON_SEED": "5", "TRNMON_FAULTS__RATE_MULTIPLIER": "4", "TRNMON_TOKEN_FILE": "x"}
    cfg = load_config(config_file=f, environ=env)
    assert (cfg.seed, cfg.faults.rate_multiplier, cfg.tick_seconds) == (5, 4.0, 2.0)
    cfg = load_config(config_file=f, environ=env, overrides={"seed": 9, "lnc": None})
    assert cfg.seed == 9 and cfg.lnc == 2
    # the preset can come from the environment, and a flag beats it
    assert load_config(environ={"TRNMON_PRESET": "ultraserver"}).name == "ultraserver"
    assert load_config(preset_name="tiny", environ={"TRNMON_PRESET": "ohio"}).name == "tiny"


def test_env_json_list(tmp_path: Path) -> None:
    azs = '[{"name": "us-east-2c", "zone_id": "use2-az3", "nodes": {"trn2": 2}}]'
    cfg = load_config(environ={"TRNMON_AVAILABILITY_ZONES": azs})
    assert cfg.availability_zones[0].nodes.trn2 == 2


@pytest.mark.parametrize(("toml", "needle"), [
    ("seed = -1", "seed: Input should be greater than or equal to 0 (got -1)"),
    ('lnc = 3', "lnc:"),
    ('tick_seconds = "fast"', "tick_seconds:"),
    ("bogus = 1", "bogus: Extra inputs are not permitted"),
    ("[faults]\nrate_multiplier = -2", "faults.rate_multiplier:"),
    ("[workload]\nmfu_min = 0.9\nmfu_max = 0.5", "mfu_min must not exceed mfu_max"),
    ('[[availability_zones]]\nname = "us-east-2a"\nzone_id = "use2-az1"\n'
     '[availability_zones.nodes]\ntrn2 = -1', "availability_zones.0.nodes.trn2:"),
    ('[[availability_zones]]\nname = "us-east-2a"\nzone_id = "use2-az1"\n',
     "the fleet has no nodes"),
    ('[[availability_zones]]\nname = "us-east-2a"\nzone_id = "use2-az1"\nnodes = {trn2=1}\n'
     '[[availability_zones]]\nname = "us-east-2a"\nzone_id = "use2-az2"\nnodes = {trn2=1}\n',
     "must be unique"),
    ('availability_zones = []', "availability_zones:"),
    ('region = "Ohio"', "region:"),
    ("seed = ", "invalid TOML"),
    ('preset = "nowhere"', "unknown preset 'nowhere'"),
    ("preset = 3", "preset: must be a string"),
])
def test_config_errors_name_the_field(tmp_path: Path, toml: str, needle: str) -> None:
    f = _write(tmp_path, toml)
    with pytest.raises(ConfigError) as err:
        load_config(config_file=f, environ={})
    text = str(err.value)
    assert needle in text and "\n" not in text


def test_env_and_flag_errors() -> None:
    with pytest.raises(ConfigError, match="seed"):
        load_config(environ={"TRNMON_SEED": "abc"})
    with pytest.raises(ConfigError, match="invalid JSON"):
        load_config(environ={"TRNMON_AVAILABILITY_ZONES": "[oops"})
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config(preset_name="huge", environ={})
    with pytest.raises(ConfigError, match="no such file"):
        load_config(config_file="/nonexistent/fleet.toml", environ={})


def test_cli_config_errors_exit_2_with_one_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "seed = -4\n")
    for argv in (["ls", "--config", str(bad)], ["config", "check", str(bad)],
                 ["ls", "--preset", "nope"], ["ls", "--seed", "x"], ["ls", "--node", "zz"],
                 ["config", "check", str(tmp_path)], ["ls", "--lnc", "4"], ["frobnicate"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("trnmon") and err.count("\n") == 1, (argv, err)
        assert "Traceback" not in err


def test_config_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, 'preset = "tiny"\nseed = 3\n')
    assert main(["config", "check", str(good)]) == 0
    assert "ok (tiny: 1 AZ, 92 chips, seed 3)" in capsys.readouterr().out


def test_real_process_has_no_traceback(tmp_path: Path) -> None:
    bad = _write(tmp_path, "[faults]\nrate_multiplier = 'x'\n")
    r = subprocess.run([sys.executable, "-m", "trnmon", "ls", "--config", str(bad)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "faults.rate_multiplier" in r.stderr
