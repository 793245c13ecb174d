"""`trnmon estimate --compare`: ranking, agreement with `trnmon estimate`, goodput, errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trnmon.cli import main
from trnmon.config import load_config
from trnmon.hw.prices import PRICE_BY_TYPE
from trnmon.sim.compare import FailureModel
from trnmon.sim.rules import HANG_WATCHDOG_S, LOAD_S
from trnmon.sim.taxonomy import CAUSES, Effect

CONTRACT = ("instance_type", "nodes", "tp", "pp", "dp", "time_s", "tokens_per_s", "mfu",
            "cost_dollars", "tokens_per_dollar", "goodput_cost_dollars")
TRAIN_70B = ["estimate", "--compare", "--model", "Llama-3-70B", "--train-tokens", "1T"]


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[dict[str, Any]]:
    assert main([*argv, "--json"]) == 0
    out: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return out


@pytest.fixture(scope="module")
def train_70b() -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "trnmon", *TRAIN_70B, "--json"],
                          capture_output=True, text=True, timeout=120, check=True)
    out: list[dict[str, Any]] = json.loads(proc.stdout)
    return out


def test_llama3_70b_1t_ranks_configurations(train_70b: list[dict[str, Any]]) -> None:
    ok = [c for c in train_70b if c["fits"]]
    bad = [c for c in train_70b if not c["fits"]]
    assert len(ok) > 20 and {c["instance_type"] for c in ok} >= {"trn2.48xlarge",
                                                                  "trn1.32xlarge"}
    for c in train_70b:
        assert set(CONTRACT) <= set(c)
    # Runnable first, by cost; the rest after, each with its reason.
    assert train_70b[:len(ok)] == ok
    costs = [c["cost_dollars"] for c in ok]
    assert costs == sorted(costs) and costs[0] < costs[-1]
    for c in ok:
        assert c["tp"] * c["pp"] * c["dp"] == c["nodes"] * (64 if "trn2" in
                                                            c["instance_type"] else 32)
        hours = c["time_s"] / 3600
        assert c["cost_dollars"] == pytest.approx(c["nodes"] * c["price_per_hour"] * hours,
                                                  rel=1e-9)
        assert c["tokens_per_dollar"] == pytest.approx(1e12 / c["cost_dollars"], rel=1e-6)
        assert c["goodput_cost_dollars"] > c["cost_dollars"]  # failures cost something
    assert bad and all(c["reason"] for c in bad)
    hbm = [c for c in bad if c["reason"].startswith("does not fit in HBM")]
    assert any(c["instance_type"] == "trn1.32xlarge" for c in hbm)
    assert any(c["instance_type"] == "inf2.48xlarge" and "serves only" in c["reason"]
               for c in bad)


def test_best_trn2_time_agrees_with_trnmon_estimate(
        capsys: pytest.CaptureFixture[str], train_70b: list[dict[str, Any]]) -> None:
    best = next(c for c in train_70b if c["fits"] and c["instance_type"] == "trn2.48xlarge")
    argv = ["estimate", "--model", "llama3-70b", "--instance", "trn2.48xlarge", "--nodes",
            str(best["nodes"]), "--tp", str(best["tp"]), "--pp", str(best["pp"]), "--train",
            "--json"]
    assert main(argv) == 0
    est = json.loads(capsys.readouterr().out)
    assert est["dp"] == best["dp"] and est["fits"] is True
    steps = math.ceil(1e12 / (1024 * 8192))  # estimate's default batch and sequence
    assert best["steps"] == steps
    assert best["time_s"] == pytest.approx(steps * est["step_s"], rel=1e-8)
    assert best["tokens_per_s"] == pytest.approx(est["tokens_per_s"], rel=1e-8)
    assert best["mfu"] == pytest.approx(est["mfu"], abs=1e-4)


def test_failure_model_follows_the_configured_rates() -> None:
    cfg = load_config(preset_name="tiny", environ={})
    fm = FailureModel.from_config(cfg)
    total = sum(c.rate_per_chip_second for c in CAUSES)
    hang = sum(c.rate_per_chip_second for c in CAUSES if c.effect == Effect.HANG_TIMEOUT)
    assert fm.rate_per_chip_s == total * cfg.faults.rate_multiplier
    assert fm.detect_s == HANG_WATCHDOG_S * hang / total and fm.reload_s == LOAD_S
    c = cfg.workload.checkpoint_interval_s
    lam = 128 * fm.rate_per_chip_s
    expect = 1e6 * (1 + 2.0 / c) / (1 - lam * (c / 2 + fm.detect_s + LOAD_S))
    assert fm.train_wall_s(128, 1e6, 2.0) == pytest.approx(expect, rel=1e-12)
    off = FailureModel.from_config(load_config(
        preset_name="tiny", overrides={"faults": {"enabled": False}}, environ={}))
    assert off.train_wall_s(128, 1e6, 0.0) == 1e6 and off.serve_overprovision(16) == 1.0


def _toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    return str(path)


def test_configured_prices_and_failures_apply(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    argv = [*TRAIN_70B, "--instances", "trn2.48xlarge", "--node-counts", "16"]
    base = _run(capsys, argv)
    cheap = _run(capsys, [*argv, "--config", _toml(tmp_path, "[pricing]\ndiscount = 0.5\n"
                                                   "[faults]\nenabled = false\n")])
    list_price = PRICE_BY_TYPE["trn2.48xlarge"].usd_per_hour
    for a, b in zip((c for c in base if c["fits"]), (c for c in cheap if c["fits"]),
                    strict=True):
        assert a["price_per_hour"] == list_price and b["price_per_hour"] == list_price / 2
        assert b["cost_dollars"] == pytest.approx(a["cost_dollars"] / 2, rel=1e-12)
        assert a["currency"] == b["currency"] == "USD"
        # Without failures only the checkpoint pauses (every 1,800 s) cost time.
        wall = b["time_s"] * (1 + b["checkpoint_pause_s"] / 1800.0)
        assert b["goodput_time_s"] == pytest.approx(wall, rel=1e-6)
        assert a["goodput_time_s"] > b["goodput_time_s"]
    doomed = _run(capsys, [*argv, "--config", _toml(
        tmp_path, "[faults]\nrate_multiplier = 100000\n")])
    assert all(c["goodput_cost_dollars"] is None and c["goodput"] == 0.0
               for c in doomed if c["fits"])


def test_serve_sizes_the_deployment_for_the_rate(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, ["estimate", "--compare", "--model", "llama3-8b", "--serve", "--rate",
                        "50", "--input-len", "1024", "--output-len", "256",
                        "--instances", "trn2.48xlarge,inf2.48xlarge", "--hours", "2"])
    ok = [c for c in out if c["fits"]]
    assert {c["instance_type"] for c in ok} == {"trn2.48xlarge", "inf2.48xlarge"}
    assert [c["cost_dollars"] for c in ok] == sorted(c["cost_dollars"] for c in ok)
    for c in ok:
        assert set(CONTRACT) <= set(c) and c["tokens_per_s"] == 50 * 256
        node_rps = c["replicas_per_node"] * c["batch"] / c["time_s"]
        assert c["nodes"] * node_rps >= 50 > (c["nodes"] - 1) * node_rps
        assert c["cost_dollars"] == pytest.approx(c["nodes"] * c["price_per_hour"] * 2)
        assert c["time_s"] == pytest.approx(c["ttft_s"] + 256 * c["itl_s"], abs=2e-4)


def test_table_lists_best_first_and_what_cannot_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*TRAIN_70B, "--top", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["instance_type", "nodes", "tp", "pp", "dp"]
    assert len([ln for ln in lines[1:6] if ln.startswith(("trn2", "trn1"))]) == 5
    assert any(ln.startswith("... ") and "more runnable" in ln for ln in lines)
    i = next(i for i, ln in enumerate(lines) if ln.startswith("cannot run ("))
    assert any("does not fit in 96 GiB of HBM per chip" in ln for ln in lines[i:])
    assert any("inf2.48xlarge" in ln and "serves only" in ln for ln in lines[i:])


@pytest.mark.parametrize(("extra", "message"), [
    ([], "exactly one of --train-tokens N or --serve"),
    (["--train-tokens", "1T", "--serve", "--rate", "3"], "exactly one"),
    (["--serve"], "--rate"),
    (["--train-tokens", "lots"], "not a positive token count"),
    (["--train-tokens", "1T", "--instances", "p5.48xlarge"], "unknown instance type"),
    (["--train-tokens", "1T", "--instance", "trn2.48xlarge"], "leave it out"),
    (["--train-tokens", "1T", "--node-counts", "8,x"], "comma-separated"),
    (["--train-tokens", "1T", "--train"], "not --train"),
    (["--train-tokens", "1T", "--ep", "2"], "--ep itself"),
    (["--train-tokens", "1T", "--max-latency-s", "3"], "--max-latency-s needs --serve"),
])
def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], extra: list[str],
                                      message: str) -> None:
    assert main(["estimate", "--compare", "--model", "llama3-70b", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_compare_flags_need_compare(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "--model", "llama3-8b", "--instance", "trn2.48xlarge",
                 "--train", "--train-tokens", "1T"]) == 2
    assert "--train-tokens needs --compare" in capsys.readouterr().err
    assert main(["estimate", "--model", "llama3-8b", "--train"]) == 2
    assert "required: --instance" in capsys.readouterr().err


def test_moe_searches_expert_parallelism_as_trnmon_estimate_costs_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, ["estimate", "--compare", "--model", "mixtral-8x22b", "--train-tokens",
                        "100B", "--instances", "trn2.48xlarge", "--node-counts", "16"])
    ok = [c for c in out if c["fits"]]
    assert {c["ep"] for c in ok} == {1, 2, 4, 8}
    assert all(c["dp"] % c["ep"] == 0 for c in out if c["dp"])
    best = next(c for c in ok if c["ep"] > 1)
    assert main(["estimate", "--model", "mixtral-8x22b", "--instance", "trn2.48xlarge",
                 "--nodes", "16", "--tp", str(best["tp"]), "--pp", str(best["pp"]), "--ep",
                 str(best["ep"]), "--train", "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    # estimate prints step_s to 6 decimals: 1e-7 relative over the steps
    assert best["time_s"] == pytest.approx(best["steps"] * est["step_s"], rel=1e-7)


def test_serving_latency_bound(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["estimate", "--compare", "--model", "llama3-8b", "--serve", "--rate", "50",
            "--input-len", "1024", "--output-len", "256", "--instances", "trn2.48xlarge"]
    free = _run(capsys, argv)
    bound = _run(capsys, [*argv, "--max-latency-s", "8"])
    assert len(free) == len(bound)
    slow = [c for c in bound if (c["reason"] or "").startswith("slower than --max-latency-s")]
    assert slow and all(c["time_s"] > 8 for c in slow)
    assert all(c["time_s"] <= 8 for c in bound if c["fits"])
    assert {c["batch"] for c in slow} == {c["batch"] for c in free
                                          if c["fits"] and c["time_s"] > 8}
