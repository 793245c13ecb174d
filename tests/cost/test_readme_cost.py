"""The README's "What it costs" section shows what the code prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trnmon.cli import main
from trnmon.exporter.catalog import FLEET_METRICS, markdown_table
from trnmon.hw import prices
from trnmon.sim.rules import LOAD_S
from trnmon.sim.taxonomy import TOTAL_RATE_PER_1E4_CHIP_DAYS

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_price_table() -> None:
    assert prices.markdown_table() in README


@pytest.mark.parametrize("first", ["--train-tokens", "--serve"])
def test_compare_examples_are_real_output(capsys: pytest.CaptureFixture[str],
                                          first: str) -> None:
    block = next(b for b in re.findall(r"```\n\$ (trnmon estimate --compare .*?)```", README,
                                       re.S) if first in b)
    lines = block.splitlines()
    cmd = []
    while lines:
        line = lines.pop(0)
        cmd.append(line.rstrip("\\").strip())
        if not line.endswith("\\"):
            break
    argv = " ".join(cmd).split()[1:]
    assert main(argv) == 0
    assert capsys.readouterr().out == "\n".join(lines) + "\n"


def test_failure_figures_quoted_in_the_readme() -> None:
    section = README[README.index("## What it costs"):]
    assert f"`c` × {TOTAL_RATE_PER_1E4_CHIP_DAYS:.3f} times per 10⁴ chip-days" in section
    assert f"the {LOAD_S:g} s\nreload" in section


def test_fleet_metric_table_is_the_catalog() -> None:
    section = README[README.index("## What it costs"):README.index("## Running for months")]
    assert markdown_table(FLEET_METRICS) in section
