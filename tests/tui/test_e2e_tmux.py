"""End to end: `neuron-top --preset tiny` in a real terminal (tmux), read off the screen."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed"),
              pytest.mark.slow]  # a real terminal, a real app, seconds of frames


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True,
                          text=True, timeout=10).stdout


@pytest.fixture
def session() -> Iterator[str]:
    name = f"neuron-top-e2e-{uuid.uuid4().hex[:8]}"
    script = Path(sys.executable).with_name("neuron-top")
    cmd = (f"{script} --preset tiny --seed 3" if script.exists()
           else f"{sys.executable} -m trnmon.cli.neuron_top --preset tiny --seed 3")
    tmux("-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "120", "-y", "40",
         f"{cmd}; sleep 30")
    # Some tmux versions size a detached session from `default-size`: pin it.
    subprocess.run(["tmux", "set-option", "-t", name, "window-size", "manual"],
                   capture_output=True, timeout=10)
    subprocess.run(["tmux", "resize-window", "-t", name, "-x", "120", "-y", "40"],
                   capture_output=True, timeout=10)
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
    wait_for(session, "NeuronCore v3d Utilization")
    wait_for(session, "ND15")
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
