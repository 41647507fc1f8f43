"""A small Python client of the signaling protocol (tests, the benchmark, Python peers).

It speaks the real protocol over a real WebSocket: connect, join, send messages, read typed
messages with a timeout, and see the close code when the server ends the connection.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

import aiohttp

from signaling.messages import Join, Ping, ServerMessage, Welcome, parse_server
from signaling.wire import Message

M = TypeVar("M", bound=Message)


class Closed(Exception):
    """The server closed the connection; `code` is its close code (None if the socket just broke)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed with {code}: {reason}" if reason else f"closed with {code}")
        self.code = code
        self.reason = reason


class SignalingClient:
    """One participant's connection. Create with `await SignalingClient.connect(url, token)`."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse, own: bool) -> None:
        self.session = session
        self.ws = ws
        self._own_session = own
        self.welcome: Welcome | None = None
        self.skipped: list[ServerMessage] = []  # messages `expect` read past, in order
        self._heartbeat: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls, url: str, token: str | None = None, *, session: aiohttp.ClientSession | None = None,
        timeout: float = 5.0,
    ) -> SignalingClient:
        """Open `url` (…/rooms/<room>) and, given a token, join and wait for the welcome (or `Closed`)."""
        own = session is None
        session = session or aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(
                url, autoping=True, max_msg_size=1 << 20, timeout=aiohttp.ClientWSTimeout(ws_close=timeout)
            )
        except BaseException:
            if own:
                await session.close()
            raise
        client = cls(session, ws, own)
        if token is not None:
            try:
                await client.send(Join(token))
                client.welcome = await client.expect(Welcome, timeout)
            except BaseException:
                await client.close()
                raise
        return client

    @property
    def id(self) -> str:
        assert self.welcome is not None, "not joined"
        return self.welcome.id

    async def send(self, msg: Message) -> None:
        await self.ws.send_str(msg.to_json())

    async def send_raw(self, text: str) -> None:
        """Send any text frame (tests send malformed ones)."""
        await self.ws.send_str(text)

    async def recv(self, timeout: float = 5.0) -> ServerMessage:
        """The next message, or `Closed`, or `TimeoutError` after `timeout` seconds."""
        msg = await self.ws.receive(timeout)
        if msg.type is aiohttp.WSMsgType.TEXT:
            return parse_server(msg.data)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            raise Closed(self.ws.close_code, str(msg.extra or ""))
        raise Closed(self.ws.close_code, f"unexpected frame {msg.type.name}")

    async def expect(self, kind: type[M], timeout: float = 5.0) -> M:
        """Read until a message of type `kind` arrives (others go to `skipped`); bounded by `timeout`."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.recv(timeout)
                if type(msg) is kind:
                    return msg  # type: ignore[return-value]
                self.skipped.append(msg)

    async def closed(self, timeout: float = 5.0) -> int | None:
        """Read until the server closes; its close code."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    self.skipped.append(await self.recv(timeout))
                except Closed as exc:
                    return exc.code

    def start_heartbeat(self, interval: float) -> None:
        """Send `ping` every `interval` seconds until closed (what a booth page does)."""

        async def beat() -> None:
            while not self.ws.closed:
                await self.send(Ping())
                await asyncio.sleep(interval)

        self._heartbeat = asyncio.create_task(beat())

    async def close(self) -> None:
        """Close the socket (no `leave`: the server keeps the place for the grace period)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        await self.ws.close()
        if self._own_session:
            await self.session.close()
