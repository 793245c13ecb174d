"""`trnmon estimate`: the contract flags and JSON, refusals and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from trnmon.cli import main


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    assert main(argv) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_train_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, ["estimate", "--model", "llama3.1-70b", "--instance", "trn1.32xlarge",
                         "--nodes", "32", "--tp", "32", "--pp", "8", "--dp", "4", "--train",
                         "--seq-len", "8192", "--global-batch", "1024", "--json"])
    for key in ("step_s", "tokens_per_s", "mfu", "hbm_bytes_per_chip", "fits"):
        assert key in out
    assert out["estimate"] == "train" and out["fits"] is True
    # T2 of calibration.md: 65,044 tokens/s published.
    assert out["tokens_per_s"] == pytest.approx(65044, rel=0.15)


def test_serve_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, ["estimate", "--model", "llama3.3-70b", "--instance", "trn2.48xlarge",
                         "--tp", "64", "--lnc", "2", "--dtype", "bf16", "--serve", "--batch",
                         "1", "--input-len", "10000", "--output-len", "1500", "--json"])
    assert out["estimate"] == "serve"
    for key in ("ttft_s", "itl_s", "tokens_per_s", "hbm_bytes_per_chip", "fits"):
        assert key in out
    assert out["itl_s"] == pytest.approx(0.01966, rel=0.15)  # N1


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "--model", "llama3-8b", "--instance", "inf2.48xlarge", "--tp",
                 "24", "--dtype", "int8", "--serve"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("estimate=serve  ttft_s=") and "fits=True" in out


def test_does_not_fit_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["estimate", "--model", "llama3.1-405b", "--instance", "trn2.48xlarge", "--tp", "16",
            "--serve"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not fit" in err[0] and "GiB" in err[0]
    assert main([*argv, "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["fits"] is False and "does not fit" in captured.err


@pytest.mark.parametrize(("argv", "message"), [
    (["--model", "llama9", "--instance", "trn2.48xlarge", "--serve"], "unknown model"),
    (["--model", "llama3-8b", "--instance", "p5.48xlarge", "--serve"], "unknown instance"),
    (["--model", "llama3-8b", "--instance", "trn2.48xlarge", "--tp", "48", "--serve"],
     "does not divide"),
    (["--model", "llama3-8b", "--instance", "trn2.48xlarge", "--tp", "0", "--serve"],
     "at least 1"),
    (["--model", "llama3-8b", "--instance", "trn2.48xlarge", "--train", "--dtype", "int8"],
     "int8"),
    (["--model", "llama3-8b", "--instance", "trn2.48xlarge"], "one of the arguments"),
    (["--model", "llama3-8b", "--instance", "trn2.48xlarge", "--train", "--serve"],
     "not allowed"),
])
def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                      message: str) -> None:
    assert main(["estimate", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_console_script_has_no_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "trnmon", "estimate", "--model", "x",
                           "--instance", "trn2.48xlarge", "--serve"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
