"""Messages between the poller thread and the UI.

`SummaryReady` carries immutable models only, and `can_replace` lets a newer one replace a
queued older one: when the UI falls behind, it skips to the newest frame instead of
replaying a backlog.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from trnmon.api.models import FleetSummary, HistorySeries, NodeDetail
from trnmon.sources.base import SourceStatus


@dataclass(frozen=True, slots=True)
class Focus:
    """What the visible screen needs beyond the summary."""

    node: str | None = None  # instance id whose NodeDetail to fetch
    history: str | None = None  # history scope ("fleet", iid, "iid/ndN")


@dataclass(frozen=True, slots=True)
class Frame:
    """One coherent update: the summary plus whatever the focus asked for."""

    summary: FleetSummary | None
    status: SourceStatus
    focus: Focus
    detail: NodeDetail | None = None
    history: HistorySeries | None = None


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
