"""neuron-top's persisted preferences: theme, sort, grouping, heatmap metric, interval.

Saved as JSON in the user's config directory (XDG on Linux, via platformdirs) when the app
exits; `neuron-top --no-config` neither reads nor writes it. A missing, unreadable or
malformed file means defaults (one line on stderr for a malformed one), never a crash.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_config_dir

FILE_NAME = "neuron-top.json"


def default_path() -> Path:
    """$XDG_CONFIG_HOME/trnmon/neuron-top.json (platformdirs picks the OS's place)."""
    return Path(user_config_dir("trnmon", appauthor=False)) / FILE_NAME


@dataclass
class Settings:
    """What the operator chose last time; `path=None` keeps it in memory only."""

    theme: str = "textual-dark"
    sort: str = "health"  # HEALTH descending is problems first
    reverse: bool = True
    grouping: str = ""  # "" = by fleet size (nodes up to 400, else racks)
    metric: str = "utilization"
    interval: float = 1.0
    path: Path | None = field(default=None, compare=False, repr=False)

    @classmethod
    def load(cls, path: Path | None) -> Settings:
        """Settings from `path` (defaults for anything missing or of the wrong type)."""
        out = cls(path=path)
        if path is None or not path.is_file():
            return out
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"neuron-top: ignoring {path}: {exc}", file=sys.stderr)
            return out
        if not isinstance(data, dict):
            return out
        for f in dataclasses.fields(cls):
            value = data.get(f.name)
            default = getattr(out, f.name)
            if f.name != "path" and value is not None and type(value) is type(default):
                setattr(out, f.name, value)
            elif f.name == "interval" and isinstance(value, int) and value > 0:
                out.interval = float(value)
        if not out.interval > 0:
            out.interval = 1.0
        return out

    def to_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "path"}

    def save(self) -> None:
        """Write atomically (a crash mid-write leaves the old file); errors are ignored:
        failing to remember a preference must not fail the exit."""
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass
