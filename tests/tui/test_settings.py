"""Settings persist in the user's config dir (platformdirs) and `--no-config` ignores them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.tui.conftest import DrivenApp, settle
from tests.tui.fakes import FakeSource
from trnmon.tui.screens.fleet import FleetScreen
from trnmon.tui.settings import Settings, default_path
from trnmon.tui.widgets.heatmap import HeatmapView


def test_default_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_path() == tmp_path / "trnmon" / "neuron-top.json"


def test_choices_are_saved_on_exit_and_restored(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "neuron-top.json"

    async def first() -> None:
        app = DrivenApp(FakeSource("tiny", seed=7, ticks=2), settings=Settings.load(path))
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, lambda: app.frame is not None)
            await pilot.press("g", "m", "s", "t", "minus")
            await pilot.pause()
    asyncio.run(first())
    saved = json.loads(path.read_text())
    assert saved == {"theme": "textual-light", "sort": "jobs", "reverse": True,
                     "grouping": "az", "metric": "hbm", "interval": 2.0}

    async def second(settings: Settings, expect: dict[str, object]) -> None:
        app = DrivenApp(FakeSource("tiny", seed=7, ticks=2), settings=settings)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, lambda: app.frame is not None)
            screen = app.screen
            assert isinstance(screen, FleetScreen)
            got = {"theme": app.theme, "grouping": screen.level,
                   "metric": screen.query_one(HeatmapView).metric,
                   "sort": screen.table.sort_by,
                   "interval": app.poller.interval}
            assert got == expect
    asyncio.run(second(Settings.load(path), {
        "theme": "textual-light", "grouping": "az", "metric": "hbm", "sort": "jobs",
        "interval": 2.0}))
    # --no-config: defaults, and nothing written.
    path.write_text("{}")
    asyncio.run(second(Settings.load(None), {
        "theme": "textual-dark", "grouping": "node", "metric": "utilization",
        "sort": "health", "interval": 1.0}))
    assert path.read_text() == "{}"


def test_a_broken_file_means_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "neuron-top.json"
    path.write_text("{not json")
    assert Settings.load(path).to_dict() == Settings().to_dict()
    assert "ignoring" in capsys.readouterr().err
    path.write_text(json.dumps({"interval": -3, "theme": 5, "metric": "power"}))
    s = Settings.load(path)
    assert (s.interval, s.theme, s.metric) == (1.0, "textual-dark", "power")


def test_no_config_flag_is_accepted() -> None:
    from trnmon.cli.neuron_top import build_parser

    args = build_parser().parse_args(["--no-config", "--preset", "tiny"])
    assert args.no_config is True
