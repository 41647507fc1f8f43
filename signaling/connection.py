"""One client socket: its send path (buffered until the welcome is out; never held up by a client
that stops reading), flood control, liveness."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from aiohttp import web

from signaling.codes import CloseCode

log = logging.getLogger("pingbiao.signaling")
SLOW_CLOSE_TIMEOUT = 5.0  # seconds a too-slow client gets to read up to the close frame


P = TypeVar("P")


class Connection(Generic[P]):
    """A WebSocket between one client and this process, before and after it joins.

    `epoch` names this connection in the room registry: when the same participant connects again,
    the newer epoch holds the place and the older connection is closed with 4006. `participant`
    is the place it holds once joined, of the room's type `P` (signaling.room.Participant).
    """

    __slots__ = (
        "ws", "epoch", "room", "participant", "last_seen", "opened", "_tokens", "_stamp", "strikes",
        "_pending", "end_reason", "_rate", "_burst", "_transport", "_limits", "_backlog", "_backlog_bytes",
        "_max_backlog", "_task", "on_slow",
    )

    def __init__(
        self, ws: web.WebSocketResponse, epoch: str, room: str, rate: float, burst: int,
        transport: asyncio.Transport | None = None, max_backlog: int = 1 << 20,
    ) -> None:
        self.ws = ws
        self._transport = transport  # to see how far behind the client is in reading
        # (low, high) water marks: the transport pauses writers above high until back down to low
        self._limits = transport.get_write_buffer_limits() if transport is not None else (0, 0)
        self._backlog: deque[str] | None = None  # messages waiting for the client to read (a writer task sends them)
        self._backlog_bytes = 0
        self._max_backlog = max_backlog
        self._task: asyncio.Task[None] | None = None  # the backlog writer, or the close of a too-slow client
        # called once the client is found too slow, before its socket is closed (which waits for it)
        self.on_slow: Callable[[Connection[P]], Awaitable[None]] | None = None
        self.epoch = epoch
        self.room = room
        self.participant: P | None = None
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
        """Send one text frame without ever waiting for this client to read.

        While the transport's buffer has room the frame is written at once (the write cannot block).
        Otherwise it joins this connection's backlog, which a writer task of its own sends as the
        client reads; a backlog beyond `max_backlog` bytes closes the client with 4010, so one
        client that stopped reading holds up neither its room nor the bus. A closed or broken
        socket drops the frame (its handler cleans up).
        """
        if self._pending is not None:
            self._pending.append(text)
            return
        if self.ws.closed or self.end_reason == "slow":
            return
        size = len(text) if text.isascii() else len(text.encode("utf-8"))
        if self._backlog is not None:
            self._backlog.append(text)
            self._backlog_bytes += size
            if self._backlog_bytes > self._max_backlog:
                self._too_slow()
            return
        transport = self._transport
        buffered = transport.get_write_buffer_size() if transport is not None else 0
        if transport is not None and (buffered > self._limits[0] or buffered + size + 16 > self._limits[1]):
            # Not certainly below the transport's pause point (it resumes writers only at the low
            # mark): aiohttp might wait for the client to read, so the writer task sends it.
            if transport.is_closing():
                return
            self._backlog = deque((text,))
            self._backlog_bytes = size
            self._task = asyncio.create_task(self._write_backlog())
            return
        try:
            await self.ws.send_str(text)  # the transport is not paused and stays so: no waiting
        except (ConnectionError, RuntimeError) as exc:
            log.debug("send failed", extra={"room": self.room, "epoch": self.epoch, "error": repr(exc)})

    async def _write_backlog(self) -> None:
        backlog = self._backlog
        try:
            while backlog:
                text = backlog.popleft()
                self._backlog_bytes -= len(text) if text.isascii() else len(text.encode("utf-8"))
                await self.ws.send_str(text)  # waits while the client does not read
        except (ConnectionError, RuntimeError) as exc:
            log.debug("send failed", extra={"room": self.room, "epoch": self.epoch, "error": repr(exc)})
        finally:
            if self._backlog is backlog:
                self._backlog, self._backlog_bytes = None, 0

    def _too_slow(self) -> None:
        """Drop the backlog and close with 4010 (the close frame follows what the client has not read)."""
        log.warning("client too slow", extra={"room": self.room, "epoch": self.epoch, "backlog": self._backlog_bytes})
        # The writer task stops after its current frame. It is not cancelled: cancelling a task
        # waiting in aiohttp's drain cancels the drain future that the close below waits on too.
        if self._backlog is not None:
            self._backlog.clear()
        self._backlog, self._backlog_bytes = None, 0
        self.end_reason = "slow"
        self._task = asyncio.create_task(self._close_slow())

    async def _close_slow(self) -> None:
        """Close with 4010; give the client SLOW_CLOSE_TIMEOUT to read up to the close frame, then
        drop the connection (a client that never reads would otherwise hold its socket forever)."""
        transport = self._transport
        if self.on_slow is not None:  # the room learns at once, not after the close handshake
            try:
                await self.on_slow(self)
            except Exception:
                log.exception("handling a too-slow client failed", extra={"room": self.room, "epoch": self.epoch})
        try:
            async with asyncio.timeout(SLOW_CLOSE_TIMEOUT):
                await self.close(CloseCode.TOO_SLOW, "too slow: stopped reading", "slow")
                while transport is not None and transport.get_write_buffer_size():
                    await asyncio.sleep(0.05)
        except (TimeoutError, ConnectionError, RuntimeError):
            pass
        finally:
            if transport is not None and transport.get_write_buffer_size():
                transport.abort()  # whatever the client never read is dropped

    def cancel(self) -> None:
        """Stop this connection's writer or closer task (server shutdown)."""
        if self._task is not None:
            self._task.cancel()

    async def close(self, code: int, message: str, reason: str) -> None:
        """Close with `code` and a one-line `message`; `reason` is what hooks will be told."""
        self.end_reason = reason
        self._pending = None
        writer = self._task
        if self._backlog is not None and writer is not None and writer is not asyncio.current_task():
            # queued messages (e.g. `removed`) go before the close frame, if the client reads them in time
            try:
                await asyncio.wait_for(asyncio.shield(writer), SLOW_CLOSE_TIMEOUT)
            except TimeoutError:
                pass
        if not self.ws.closed:
            await self.ws.close(code=code, message=message.encode("utf-8")[:123])
