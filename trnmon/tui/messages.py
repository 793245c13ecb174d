"""Messages between the poller thread, the screens and the app.

`SummaryReady` carries immutable models only, and `can_replace` lets a newer one replace a
queued older one: when the UI falls behind, it skips to the newest frame instead of
replaying a backlog. Screens never reach into the app: they post navigation messages
(`OpenNode`, `OpenDevice`, `OpenProcesses`, `GoFleet`) and `WantFocus`, which the app
handles; what the app knows that a screen draws (paused, interval, the event log) travels
with the Frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from trnmon.api.models import EventModel, FleetSummary, HistorySeries, NodeDetail
from trnmon.sources.base import SourceStatus
from trnmon.tui.settings import Settings


@dataclass(frozen=True, slots=True)
class Focus:
    """What the visible screen needs beyond the summary."""

    node: str | None = None  # instance id whose NodeDetail to fetch
    history: str | None = None  # history scope ("fleet", iid, "iid/ndN")


@dataclass(frozen=True, slots=True)
class Frame:
    """One coherent update: the summary plus whatever the focus asked for, and the app's
    own state a screen draws (paused, refresh interval, the UI's event log)."""

    summary: FleetSummary | None
    status: SourceStatus
    focus: Focus
    detail: NodeDetail | None = None
    history: HistorySeries | None = None
    paused: bool = False
    interval: float = 1.0
    events: tuple[EventModel, ...] = ()
    received: float = 0.0  # monotonic seconds when the poller read it
    fresh_at: float = 0.0  # monotonic seconds of the last connected data (stale age)
    settings: Settings | None = None  # what the operator chose last time (read on first draw)


class SummaryReady(Message):
    """A new Frame from the poller (posted from its thread; post_message is thread-safe)."""

    def __init__(self, frame: Frame) -> None:
        super().__init__()
        self.frame = frame

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SummaryReady)


class ChipClicked(Message):
    """A heatmap cell was clicked: the first chip it covers, in topology order."""

    def __init__(self, chip: int) -> None:
        super().__init__()
        self.chip = chip


class WantFocus(Message):
    """A screen became visible and needs this Focus (and the latest frame, redrawn)."""

    def __init__(self, focus: Focus) -> None:
        super().__init__()
        self.focus = focus


class OpenNode(Message):
    """Open the Node view of one instance."""

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id


class OpenDevice(Message):
    """Open the Device view of one NeuronDevice."""

    def __init__(self, instance_id: str, device: int) -> None:
        super().__init__()
        self.instance_id = instance_id
        self.device = device


class OpenProcesses(Message):
    """Open the Processes view of one instance."""

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id


class GoFleet(Message):
    """Back to the fleet overview from anywhere (`1`)."""


class SettingChanged(Message):
    """A screen changed a persisted preference (the app saves it on exit)."""

    def __init__(self, name: str, value: object) -> None:
        super().__init__()
        self.name = name
        self.value = value
