"""How values read on a page: money with thousands separators, sizes in binary units, times in
the installation's time zone (setting ``time_zone``, default Asia/Shanghai) with the zone shown.

Pure functions, registered as Jinja globals and filters by web/rendering.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from evaluation.errors import Lookup, Text, unchanged
from evaluation.session.report import thousands as money  # a record's yuan text with separators

__all__ = ["local_time", "money", "size_text", "yuan", "zone_name"]


def yuan(fen: int | None) -> str:
    """Fen as yuan with thousands separators: 100000000 → "1,000,000.00"."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def size_text(n: int | None) -> str:
    """A byte count in binary units: 1536 → "1.5 KiB"."""
    if n is None:
        return ""
    for unit, step in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= step:
            value = n / step
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(unix: float, zone: str) -> str:
    """Unix seconds as "YYYY-MM-DD HH:MM:SS" on the clock of `zone`."""
    return datetime.fromtimestamp(unix, tz=_zone(zone)).strftime("%Y-%m-%d %H:%M:%S")


def local_when(zone: str, lookup: Lookup = unchanged) -> Callable[[float], str]:
    """Unix seconds as a document shows them: the local date and time with the zone named
    ("2026-12-03 10:00:00（北京时间）"; in English through `lookup`, "… (Beijing time)")."""
    def when(unix: float) -> str:
        return Text("{time}（{zone}）", time=local_time(unix, zone), zone=Text(zone_name(zone, unix))).render(lookup)
    return when


def zone_name(zone: str, unix: float) -> str:
    """How a reader knows which clock a time is on: Beijing time by its name (北京时间), any other
    zone by its offset from UTC at that moment ("UTC+09:00")."""
    if zone in ("Asia/Shanghai", "Asia/Chongqing", "PRC"):
        return "北京时间"
    offset = datetime.fromtimestamp(unix, tz=_zone(zone)).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"
