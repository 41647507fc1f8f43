"""One client socket: its send path (buffered until the welcome is out), flood control, liveness."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from signaling.room import Participant

log = logging.getLogger("pingbiao.signaling")


class Connection:
    """A WebSocket between one client and this process, before and after it joins.

    `epoch` names this connection in the room registry: when the same participant connects again,
    the newer epoch holds the place and the older connection is closed with 4006.
    """

    __slots__ = (
        "ws", "epoch", "room", "participant", "last_seen", "opened", "_tokens", "_stamp", "strikes",
        "_pending", "end_reason", "_rate", "_burst",
    )

    def __init__(self, ws: web.WebSocketResponse, epoch: str, room: str, rate: float, burst: int) -> None:
        self.ws = ws
        self.epoch = epoch
        self.room = room
        self.participant: Participant | None = None
        self.opened = self.last_seen = time.monotonic()
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = self.opened
        self.strikes = 0  # messages dropped since the bucket was last full
        self._pending: list[str] | None = None
        self.end_reason = "lost"  # why the socket ended, for hooks: lost, heartbeat, left, removed, replaced

    def admit(self, now: float) -> bool:
        """Token bucket: whether one more message may pass now (and note the client is alive)."""
        self.last_seen = now
        tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if tokens >= self._burst:
            self.strikes = 0
        if tokens < 1.0:
            self._tokens = tokens
            self.strikes += 1
            return False
        self._tokens = tokens - 1.0
        return True

    def hold(self) -> None:
        """Queue outgoing messages until `release` (the welcome must be the first message)."""
        self._pending = []

    async def release(self) -> None:
        pending, self._pending = self._pending, None
        for text in pending or ():
            await self.send(text)

    async def send(self, text: str) -> None:
        """Send one text frame; a closed or broken socket drops it (its handler cleans up)."""
        if self._pending is not None:
            self._pending.append(text)
            return
        if self.ws.closed:
            return
        try:
            await self.ws.send_str(text)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("send failed", extra={"room": self.room, "epoch": self.epoch, "error": repr(exc)})

    async def close(self, code: int, message: str, reason: str) -> None:
        """Close with `code` and a one-line `message`; `reason` is what hooks will be told."""
        self.end_reason = reason
        self._pending = None
        if not self.ws.closed:
            await self.ws.close(code=code, message=message.encode("utf-8")[:123])
