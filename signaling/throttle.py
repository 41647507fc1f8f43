"""How often an account may join a room (or fetch room tokens): a token bucket per key, in memory.

A room token is valid for about two minutes and may be used more than once, so without this a
client could join and leave in a loop, and every join and leave is a presence event (web/ writes
each to the audit log). The budget is per account and room, not per token or socket: fetching
fresh tokens does not reset it. Pure bookkeeping; the server decides what a refusal looks like.
"""

from __future__ import annotations

import math


class AccountBudget:
    """`burst` joins at once, then `rate` per second, for each (room, account)."""

    __slots__ = ("rate", "burst", "_buckets")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # key → (tokens, when)

    def _level(self, key: tuple[str, str], now: float) -> float:
        tokens, stamp = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - stamp) * self.rate)

    def take(self, room: str, account: str, now: float) -> int:
        """0 if `account` may join `room` now (the join is counted), else whole seconds to wait."""
        key = (room, account)
        tokens = self._level(key, now)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))
        self._buckets[key] = (tokens - 1.0, now)
        return 0

    def prune(self, now: float) -> None:
        """Forget the accounts whose budget is full again (keeps the table small)."""
        full = [key for key in self._buckets if self._level(key, now) >= self.burst]
        for key in full:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
