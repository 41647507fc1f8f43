"""Two server processes sharing Redis (127.0.0.1:6379): peers joined through different processes
reach each other, and presence, capacity and reconnects hold across them."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from signaling.client import Closed, SignalingClient
from signaling.codes import CloseCode, LeaveReason, Role
from signaling.messages import (
    Answer,
    Offer,
    PeerBack,
    PeerJoined,
    PeerLeft,
    PeerReconnecting,
    RelayedAnswer,
    RelayedOffer,
)
from signaling.tokens import TokenSigner
from signaling.wire import PeerInfo

from ..conftest import need
from .procs import signaling_process, signaling_server_process
from .sdp import CHROMIUM_OFFER

pytestmark = pytest.mark.redis
REDIS = "redis://127.0.0.1:6379/0"
SECRET = bytes(range(1, 33))


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A channel/key prefix of this test alone; its keys are deleted afterwards."""
    client = aioredis.Redis.from_url(REDIS, socket_connect_timeout=1)
    try:
        await client.ping()
        up = True
    except (OSError, aioredis.RedisError):
        up = False
    need(up, "Redis is not reachable at 127.0.0.1:6379")
    prefix = f"pingbiao-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    keys = [k async for k in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def token(room: str, account: str, role: Role = Role.EXPERT) -> str:
    return TokenSigner(SECRET).issue(room, account, role, account.title(), 60)


async def test_peers_on_different_processes_exchange_offer_and_answer(prefix: str) -> None:
    args = ("--bus", REDIS, "--prefix", prefix, "--capacity", "2", "--grace", "30")
    async with signaling_process(SECRET, *args) as one, signaling_process(SECRET, *args) as two:
        alice = await SignalingClient.connect(f"{one}/rooms/r1", token("r1", "alice", Role.HOST))
        bob = await SignalingClient.connect(f"{two}/rooms/r1", token("r1", "bob"))
        try:
            assert bob.welcome is not None
            assert bob.welcome.participants == (PeerInfo("alice", "Alice", Role.HOST),)
            assert await alice.expect(PeerJoined) == PeerJoined(PeerInfo("bob", "Bob", Role.EXPERT))
            await bob.send(Offer("alice", CHROMIUM_OFFER))
            assert await alice.expect(RelayedOffer) == RelayedOffer("bob", CHROMIUM_OFFER)
            await alice.send(Answer("bob", "v=0\r\n"))
            assert await bob.expect(RelayedAnswer) == RelayedAnswer("alice", "v=0\r\n")

            # capacity is shared: a third participant is refused by either process
            with pytest.raises(Closed) as info:
                await SignalingClient.connect(f"{one}/rooms/r1", token("r1", "carol"))
            assert info.value.code == CloseCode.ROOM_FULL

            # bob's network drops; he comes back through the other process and keeps his place
            await bob.close()
            assert await alice.expect(PeerReconnecting) == PeerReconnecting("bob")
            bob = await SignalingClient.connect(f"{one}/rooms/r1", token("r1", "bob"))
            assert bob.welcome is not None and bob.welcome.resumed
            assert await alice.expect(PeerBack) == PeerBack("bob")
            await alice.send(Offer("bob", "v=2"))
            assert await bob.expect(RelayedOffer) == RelayedOffer("alice", "v=2")

            # the same participant connecting through the other process replaces the old socket
            bob2 = await SignalingClient.connect(f"{two}/rooms/r1", token("r1", "bob"))
            assert await bob.closed() == CloseCode.REPLACED
            await alice.send(Offer("bob", "v=3"))
            assert await bob2.expect(RelayedOffer) == RelayedOffer("alice", "v=3")
            await bob2.close()
        finally:
            await alice.close()
            await bob.close()


async def test_places_of_a_killed_process_are_released_within_the_lease(prefix: str) -> None:
    lease = 1.0
    args = ("--bus", REDIS, "--prefix", prefix, "--capacity", "2", "--grace", "30", "--lease", str(lease))
    async with signaling_process(SECRET, *args) as one, signaling_server_process(SECRET, *args) as two:
        alice = await SignalingClient.connect(f"{one}/rooms/r1", token("r1", "alice", Role.HOST))
        bob = await SignalingClient.connect(f"{two.url}/rooms/r1", token("r1", "bob"))
        dave = await SignalingClient.connect(f"{two.url}/rooms/r2", token("r2", "dave"))  # alone in r2
        carol = None
        try:
            assert await alice.expect(PeerJoined) == PeerJoined(PeerInfo("bob", "Bob", Role.EXPERT))
            with pytest.raises(Closed) as info:  # r1 is full
                await SignalingClient.connect(f"{one}/rooms/r1", token("r1", "carol"))
            assert info.value.code == CloseCode.ROOM_FULL

            two.proc.send_signal(signal.SIGKILL)  # no cleanup at all: bob's entry stays in Redis
            await two.proc.wait()
            killed = time.monotonic()
            # the surviving process notices the expired lease by itself (its periodic reap)...
            assert await alice.expect(PeerLeft, timeout=3 * lease + 2) == PeerLeft("bob", LeaveReason.TIMEOUT)
            assert time.monotonic() - killed < lease + lease / 3 + 2.0  # lease, one reap period, slack
            carol = await SignalingClient.connect(f"{one}/rooms/r1", token("r1", "carol"))
            assert carol.welcome is not None and carol.welcome.participants == (
                PeerInfo("alice", "Alice", Role.HOST),
            )
            # ...and a joiner reaps a room no live process serves (dave's r2, capacity 2 → 1 free)
            client = aioredis.Redis.from_url(REDIS)
            try:
                assert await client.hlen(f"{prefix}members:r2") == 1  # type: ignore[misc]
                erin = await SignalingClient.connect(f"{one}/rooms/r2", token("r2", "erin"))
                assert erin.welcome is not None and erin.welcome.participants == ()
                assert await client.hkeys(f"{prefix}members:r2") == [b"erin"]  # type: ignore[misc]
                await erin.close()
            finally:
                await client.aclose()
        finally:
            for c in (alice, bob, dave, carol):
                if c is not None:
                    await c.close()
