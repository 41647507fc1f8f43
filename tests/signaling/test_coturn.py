"""coturn (Debian's `turnserver`) on 127.0.0.1 with use-auth-secret: aiortc peers forced to relay-only
connect with the TURN credentials the signaling server issued in `welcome`, and do not with expired
ones. The peers signal through the real server; aioice's host addresses are pinned to 127.0.0.1
in this test (it never gathers loopback otherwise)."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aioice.ice
import pytest
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)

from signaling.client import SignalingClient
from signaling.messages import Answer, Offer, RelayedAnswer, RelayedOffer
from signaling.turn import IceConfig

from ..conftest import need_executable
from .conftest import StartServer

TURN_SECRET = b"coturn-test-secret-0123456789abcdef"


@dataclass
class Turn:
    port: int


async def _stun_answers(port: int) -> bool:
    """Whether a STUN binding request to 127.0.0.1:port gets a reply within 0.5 s."""
    loop = asyncio.get_running_loop()
    replied = loop.create_future()

    class Probe(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            if not replied.done():
                replied.set_result(data[:2] == b"\x01\x01")

    transport, _ = await loop.create_datagram_endpoint(Probe, remote_addr=("127.0.0.1", port))
    try:
        transport.sendto(b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12))
        return await asyncio.wait_for(replied, 0.5)
    except TimeoutError:
        return False
    finally:
        transport.close()


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def turn() -> AsyncIterator[Turn]:
    """A private coturn on 127.0.0.1, ready (it answers STUN) before the test starts."""
    exe = need_executable("turnserver")
    port = _free_udp_port()
    low = random.randrange(40000, 59000, 100)
    with tempfile.TemporaryDirectory() as tmp:
        proc = await asyncio.create_subprocess_exec(
            exe, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
            "--use-auth-secret", f"--static-auth-secret={TURN_SECRET.decode()}", "--realm=pingbiao.test",
            "--allow-loopback-peers", "--no-tls", "--no-dtls", "--no-cli", "--fingerprint",
            f"--min-port={low}", f"--max-port={low + 99}", f"--db={tmp}/turndb", f"--pidfile={tmp}/turn.pid",
            "--log-file=stdout", "--no-stdout-log",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async with asyncio.timeout(10.0):
                while not await _stun_answers(port):  # each probe waits for the reply event
                    assert proc.returncode is None, "turnserver exited"
            yield Turn(port)
        finally:
            proc.terminate()
            await proc.wait()


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def relay_pc(client: SignalingClient) -> RTCPeerConnection:
    """A relay-only peer connection using exactly the ICE servers the signaling server issued."""
    assert client.welcome is not None
    servers = [RTCIceServer(list(s.urls), s.username, s.credential) for s in client.welcome.ice_servers]
    assert servers and all(s.username for s in servers)
    return RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY))


async def negotiate(a: SignalingClient, b: SignalingClient) -> tuple[RTCPeerConnection, RTCPeerConnection, str]:
    pa, pb = relay_pc(a), relay_pc(b)
    pa.addTrack(VideoStreamTrack())
    pb.addTrack(VideoStreamTrack())
    await pa.setLocalDescription(await pa.createOffer())
    await a.send(Offer(b.id, pa.localDescription.sdp))
    offer = await b.expect(RelayedOffer)
    await pb.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
    await pb.setLocalDescription(await pb.createAnswer())
    await b.send(Answer(a.id, pb.localDescription.sdp))
    answer = await a.expect(RelayedAnswer)
    await pa.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
    return pa, pb, offer.sdp


async def reaches(pc: RTCPeerConnection, state: str, within: float) -> bool:
    """Whether `pc`'s connectionState becomes `state` within `within` seconds (waits on the event)."""
    seen = asyncio.Event()

    @pc.on("connectionstatechange")
    def _changed() -> None:
        if pc.connectionState == state:
            seen.set()

    if pc.connectionState == state:
        return True
    try:
        await asyncio.wait_for(seen.wait(), within)
        return True
    except TimeoutError:
        return False


@pytest.mark.parametrize(("ttl", "connects"), [(600.0, True), (-60.0, False)], ids=["issued", "expired"])
async def test_relay_only_with_issued_credentials(
    start_server: StartServer, turn: Turn, loopback_only: None, ttl: float, connects: bool
) -> None:
    urls = (f"turn:127.0.0.1:{turn.port}?transport=udp",)
    srv = await start_server(ice=IceConfig(turn_urls=urls, turn_secret=TURN_SECRET, turn_ttl=ttl))
    a = await srv.join("relay", "alice")
    b = await srv.join("relay", "bob")
    pa, pb, offer_sdp = await negotiate(a, b)
    try:
        if connects:
            assert " typ relay " in offer_sdp
            assert " typ host " not in offer_sdp
            assert await reaches(pa, "connected", 15.0)
            assert await reaches(pb, "connected", 15.0)
        else:
            assert " typ relay " not in offer_sdp  # coturn refused the expired username
            assert not await reaches(pa, "connected", 4.0)
            assert pb.connectionState != "connected"
    finally:
        await pa.close()
        await pb.close()
