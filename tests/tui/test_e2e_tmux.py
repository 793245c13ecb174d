"""End to end: `neuron-top --preset tiny` in a real terminal (tmux), read off the screen."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed"),
              pytest.mark.slow]  # a real terminal, a real app, seconds of frames


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True,
                          text=True, timeout=10).stdout


def start(width: int, height: int) -> str:
    name = f"neuron-top-e2e-{uuid.uuid4().hex[:8]}"
    # The module (not the console script): the script may belong to another checkout.
    cmd = f"{sys.executable} -m trnmon.cli.neuron_top --preset tiny --seed 3 --no-config"
    tmux("-f", "/dev/null", "new-session", "-d", "-s", name, "-x", str(width),
         "-y", str(height), f"{cmd}; sleep 30")
    # Some tmux versions size a detached session from `default-size`: pin it.
    subprocess.run(["tmux", "set-option", "-t", name, "window-size", "manual"],
                   capture_output=True, timeout=10)
    subprocess.run(["tmux", "resize-window", "-t", name, "-x", str(width), "-y", str(height)],
                   capture_output=True, timeout=10)
    return name


@pytest.fixture
def session() -> Iterator[str]:
    name = start(120, 40)
    try:
        yield name
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True, timeout=10)


@pytest.fixture
def small() -> Iterator[str]:
    name = start(80, 24)
    try:
        yield name
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True, timeout=10)


def wait_for(name: str, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", name)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


def test_neuron_top_in_tmux(session: str) -> None:
    screen = wait_for(session, "chips 92")
    assert "embedded tiny" in screen and "i-0547485b01b99ee63" in screen and "UTIL" in screen
    tmux("send-keys", "-t", session, "Enter")
    wait_for(session, "Utilization (Avg")  # the busiest node is on top: any type
    wait_for(session, "ND11")
    wait_for(session, "Host · 192 vCPU")
    tmux("send-keys", "-t", session, "Escape")
    wait_for(session, "nodes in all")
    tmux("send-keys", "-t", session, "q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if "neuron-top" not in tmux("capture-pane", "-p", "-t", session):
            break  # the app left the alternate screen: it exited
        time.sleep(0.2)
    else:
        raise AssertionError("neuron-top did not exit on q")


def test_80x24_pause_shows_paused_and_q_quits_fast(small: str) -> None:
    screen = wait_for(small, "chips 92")
    for word in ("alerts", "NAME", "UTIL", "HBM", "POWER", "TEMP", "HEALTH", "JOBS"):
        assert word in screen, screen
    tmux("send-keys", "-t", small, "p")
    screen = wait_for(small, "PAUSED")
    assert screen.splitlines()[0].lstrip().startswith("neuron-top")
    tmux("send-keys", "-t", small, "Enter")  # drill down while paused: still PAUSED
    wait_for(small, "Utilization (Avg")
    assert "PAUSED" in tmux("capture-pane", "-p", "-t", small)
    tmux("send-keys", "-t", small, "1")
    wait_for(small, "nodes in all")
    t0 = time.monotonic()
    tmux("send-keys", "-t", small, "q")
    while "neuron-top" in tmux("capture-pane", "-p", "-t", small):
        assert time.monotonic() - t0 < 5, "neuron-top did not exit on q"
        time.sleep(0.02)
    # < 0.5 s in the app; the bound leaves room for tmux polling on a loaded machine.
    assert time.monotonic() - t0 < 1.5
