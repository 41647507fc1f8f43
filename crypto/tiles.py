"""C2SP tlog-tiles resource paths (c2sp.org/tlog-tiles): where a tiled log serves its hashes.

A tile at level L holds up to 256 consecutive Merkle tree hashes of tree level 8 * L; the n-th
full tile at level L spans the entries ``[n * 256**(L+1), (n + 1) * 256**(L+1))``.
"""

from __future__ import annotations

from typing import NamedTuple

TILE_WIDTH = 256
"""Hashes in a full tile."""
TILE_HEIGHT = 8
"""Tree levels per tile level (256 = 2**8)."""


class TileCount(NamedTuple):
    """How many tiles one level of a tree has."""

    level: int
    full: int
    partial_width: int
    """Width of the partial tile, 0 when there is none."""


def index_path(n: int) -> str:
    """Encode a tile index as 3-digit path elements, all but the last prefixed with ``x``.

    Requires ``n >= 0``. Example: 1234067 -> ``x001/x234/067``.
    """
    if n < 0:
        raise ValueError(f"tile index must not be negative, got {n}")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def _suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width must be 1..{TILE_WIDTH}, got {width}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, n: int, width: int = TILE_WIDTH) -> str:
    """Path of the hash tile ``tile/<L>/<N>[.p/<W>]``.

    Requires ``0 <= level <= 63``, ``n >= 0`` and ``1 <= width <= 256``.
    """
    if not 0 <= level <= 63:
        raise ValueError(f"tile level must be 0..63, got {level}")
    return f"tile/{level}/{index_path(n)}{_suffix(width)}"


def entries_path(n: int, width: int = TILE_WIDTH) -> str:
    """Path of the entry bundle ``tile/entries/<N>[.p/<W>]``. Requires ``n >= 0``, ``1 <= width <= 256``."""
    return f"tile/entries/{index_path(n)}{_suffix(width)}"


def tiles_for_size(size: int) -> list[TileCount]:
    """Full and partial tile counts per level for a tree of `size` leaves (no levels when empty)."""
    counts = []
    level = 0
    hashes = size
    while hashes:
        counts.append(TileCount(level, hashes // TILE_WIDTH, hashes % TILE_WIDTH))
        hashes //= TILE_WIDTH
        level += 1
    return counts
