"""Fixtures for signaling tests: a real server on loopback with short timers, recording hooks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from signaling.client import SignalingClient
from signaling.codes import Role
from signaling.config import SignalingConfig
from signaling.server import SERVER, SignalingServer, signaling_app
from signaling.tokens import TokenSigner

SECRET = bytes(range(32))
BASE_CONFIG = SignalingConfig(
    token_secret=SECRET, capacity=4, grace=0.5, heartbeat=5.0, heartbeat_misses=3, join_timeout=1.0,
    rate=100.0, burst=50,
)


class RecordingHooks:
    """Hooks that record every call as (hook, room, account, role, reason) and let tests wait for one."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str, str]] = []
        self._changed = asyncio.Condition()

    async def _record(self, hook: str, room: str, account: str, role: Role, reason: str) -> None:
        async with self._changed:
            self.calls.append((hook, room, account, role.value, reason))
            self._changed.notify_all()

    async def on_join(self, room: str, account: str, role: Role, reason: str) -> None:
        await self._record("on_join", room, account, role, reason)

    async def on_leave(self, room: str, account: str, role: Role, reason: str) -> None:
        await self._record("on_leave", room, account, role, reason)

    async def on_reconnect(self, room: str, account: str, role: Role, reason: str) -> None:
        await self._record("on_reconnect", room, account, role, reason)

    async def on_remove(self, room: str, account: str, role: Role, reason: str) -> None:
        await self._record("on_remove", room, account, role, reason)

    async def wait_for(self, call: tuple[str, str, str, str, str], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: call in self.calls)


@dataclass
class Running:
    """A signaling server on loopback and what tests need to talk to it."""

    base: str  # ws://127.0.0.1:port
    app: web.Application
    hooks: RecordingHooks
    signer: TokenSigner
    clients: list[SignalingClient]

    @property
    def server(self) -> SignalingServer:
        return self.app[SERVER]

    def url(self, room: str) -> str:
        return f"{self.base}/rooms/{room}"

    def token(self, room: str, account: str, role: Role = Role.EXPERT, ttl: float = 60.0) -> str:
        return self.signer.issue(room, account, role, account.title(), ttl)

    async def join(self, room: str, account: str, role: Role = Role.EXPERT) -> SignalingClient:
        client = await SignalingClient.connect(self.url(room), self.token(room, account, role))
        self.clients.append(client)
        return client

    async def open(self, room: str) -> SignalingClient:
        client = await SignalingClient.connect(self.url(room))
        self.clients.append(client)
        return client


StartServer = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """`await start_server(**config overrides)`: a fresh server; all stop at the end of the test."""
    servers: list[tuple[TestServer, Running]] = []

    async def start(**overrides: Any) -> Running:
        hooks = RecordingHooks()
        app = signaling_app(replace(BASE_CONFIG, **overrides), hooks)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        running = Running(f"ws://127.0.0.1:{server.port}", app, hooks, TokenSigner(SECRET), [])
        servers.append((server, running))
        return running

    yield start
    for server, running in servers:
        for client in running.clients:
            await client.close()
        await server.close()


@pytest.fixture
async def srv(start_server: StartServer) -> Running:
    """A server with the default short test timers."""
    return await start_server()
