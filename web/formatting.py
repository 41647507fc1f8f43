"""How values read on a page: money with thousands separators, sizes in binary units.

Pure functions, registered as Jinja globals and filters by web/rendering.py."""

from __future__ import annotations


def yuan(fen: int | None) -> str:
    """Fen as yuan with thousands separators: 100000000 → "1,000,000.00"."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def money(value: object) -> str:
    """A record's money value ("1234567.50", yuan) with thousands separators: "1,234,567.50"."""
    text = str(value)
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, cents = text.partition(".")
    if not whole.isdigit():
        return str(value)
    return f"{sign}{int(whole):,}{dot}{cents}"


def size_text(n: int | None) -> str:
    """A byte count in binary units: 1536 → "1.5 KiB"."""
    if n is None:
        return ""
    for unit, step in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= step:
            value = n / step
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"
