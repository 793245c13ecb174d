"""Formatting shared by every view and by `neuron-top --once`: units, bars, thresholds.

Thresholds follow nvitop's habit (utilization 10/75 %, memory 10/80 %): green is fine,
yellow is busy, red needs a look. Temperature and power use their own bands.
"""

from __future__ import annotations

import math

from rich.text import Text

from trnmon.api.models import FleetSummary

GREEN, YELLOW, RED, DIM = "green", "yellow", "red", "dim"
HEALTH_STYLE = {"healthy": GREEN, "degraded": YELLOW, "failed": RED, "hung": RED, "lost": RED,
                "down": RED}
LINK_STYLE = {"up": GREEN, "degraded": YELLOW, "down": RED}
SEVERITY_STYLE = {"info": "", "warning": YELLOW, "critical": f"bold {RED}"}


def util_style(ratio: float) -> str:
    return GREEN if ratio < 0.75 else YELLOW if ratio < 0.9 else RED


def mem_style(ratio: float) -> str:
    return GREEN if ratio < 0.8 else YELLOW if ratio < 0.9 else RED


def temp_style(celsius: float) -> str:
    return GREEN if celsius < 75 else YELLOW if celsius < 90 else RED


def health_style(health: str) -> str:
    return HEALTH_STYLE.get(health, YELLOW)


def bytes_text(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def rate_text(bps: float) -> str:
    for unit, scale in (("TB/s", 1e12), ("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if abs(bps) >= scale:
            return f"{bps / scale:.1f} {unit}"
    return f"{bps:.0f} B/s"


NA = "–"  # a value the source does not report (real hosts: no power, no temperature)


def watts_text(w: float) -> str:
    if math.isnan(w):
        return NA
    if w >= 1e6:
        return f"{w / 1e6:.2f} MW"
    if w >= 1e4:
        return f"{w / 1e3:.1f} kW"
    return f"{w:.0f} W"


def celsius_text(c: float, digits: int = 0) -> str:
    return NA if math.isnan(c) else f"{c:.{digits}f}°C"


def count_text(n: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f}{unit}"
    return f"{n:.0f}"


def pct_text(ratio: float) -> str:
    return f"{ratio * 100:5.1f}%"


def bar(ratio: float, width: int, style: str | None = None) -> Text:
    """A `||||    ` bar like AWS neuron-top, coloured by threshold."""
    ratio = min(max(ratio, 0.0), 1.0)
    filled = round(ratio * width)
    return Text.assemble(("|" * filled, style or util_style(ratio)),
                         (" " * (width - filled), DIM))


def bar_pct(ratio: float, width: int, style: str | None = None) -> Text:
    """Bar plus `[56.8%]`, the AWS neuron-top cell."""
    return Text.assemble(bar(ratio, width, style), f"[{ratio * 100:5.1f}%]")


def summary_line(s: FleetSummary) -> str:
    """The header's facts, plain: chips, busy, unhealthy, power, alerts."""
    t = s.totals
    return (f"{s.fleet} ({s.region})  tick {s.tick}  chips {t.chips}  "
            f"busy {t.busy_chips} ({t.busy_chips / max(t.chips, 1):.0%})  "
            f"unhealthy {t.unhealthy_chips}  throttled {t.throttled_chips}  "
            f"util {t.utilization:.1%}  HBM {bytes_text(t.hbm_used_bytes)}/"
            f"{bytes_text(t.hbm_total_bytes)}  power {watts_text(t.power_watts)}  "
            f"jobs {t.jobs} (+{t.queued_jobs} queued)  alerts {t.active_faults}")


def once_text(s: FleetSummary) -> str:
    """`neuron-top --once`: the summary line then one tab-separated line per node."""
    lines = [summary_line(s),
             "\t".join(("INSTANCE", "TYPE", "AZ", "ULTRASERVER", "UTIL", "HBM_USED",
                        "POWER_W", "TEMP_MAX_C", "HEALTH", "JOBS"))]
    for r in s.nodes:
        lines.append("\t".join((
            r.instance_id, r.location.instance_type, r.location.availability_zone,
            r.location.ultraserver or "-", f"{r.utilization:.3f}",
            f"{r.hbm_used_bytes / max(r.hbm_total_bytes, 1):.3f}", f"{r.power_watts:.0f}",
            f"{r.temperature_max_celsius:.1f}", r.health if r.up else "down",
            ",".join(map(str, r.job_ids)) or "-")))
    return "\n".join(lines)
