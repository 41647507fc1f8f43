"""An aiortc peer that joins a room through the signaling server (run as its own process by tests).

    python tests/signaling/aiortc_peer.py URL TOKEN

The participant who finds others in the room offers to the first of them; one who finds the room
empty waits for an offer. Each side sends a generated video track and, over a data channel, one
message. Prints JSON lines: {"state": ...} per connection-state change, {"message": ...} for the
data-channel message received, {"frame": [w, h]} for the first decoded remote video frame, then
{"done": true} once it has both. It then keeps the connection open until its standard input closes
(the test closes it once *both* peers said done) and exits 0; on a timeout or an ended remote track
it prints {"error": ...} and exits 1.

Why wait for standard input: a peer that closed its RTCPeerConnection as soon as it had its own
frame and message sent RTCP BYE and an SCTP ABORT to the other peer, whose first frame could still
be in flight or in its decoder; aiortc then ends the remote track (`recv()` raises
MediaStreamError) and that peer never saw a frame. Only the test knows when both are done.

Loopback only: aioice never gathers 127.0.0.1 and would use the machine's other interfaces, so this
process patches `aioice.ice.get_host_addresses` to return just 127.0.0.1 (tests only).
"""

from __future__ import annotations

import asyncio
import json
import sys

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from signaling.client import SignalingClient
from signaling.messages import Answer, Offer, RelayedAnswer, RelayedOffer

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # loopback-only tests


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def run(url: str, token: str, timeout: float) -> int:
    client = await SignalingClient.connect(url, token)
    assert client.welcome is not None
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    tasks: set[asyncio.Future[None]] = set()
    got_frame = asyncio.Event()
    got_message = asyncio.Event()
    failed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @pc.on("connectionstatechange")
    def _state() -> None:
        say(state=pc.connectionState)

    @pc.on("track")
    def _track(track: MediaStreamTrack) -> None:
        async def first_frame() -> None:
            try:
                frame = await track.recv()
            except MediaStreamError:  # the remote side ended the track before a frame was decoded
                if not failed.done():
                    failed.set_result("remote video track ended before its first frame")
                return
            say(frame=[frame.width, frame.height])  # type: ignore[union-attr]
            got_frame.set()

        if track.kind == "video":
            tasks.add(asyncio.ensure_future(first_frame()))

    def wire_channel(channel) -> None:  # type: ignore[no-untyped-def]
        @channel.on("message")
        def _message(text: str) -> None:
            say(message=text)
            got_message.set()

        def hello() -> None:
            channel.send(f"hello from {client.id}")

        if channel.readyState == "open":
            hello()
        else:
            channel.on("open", hello)

    pc.on("datachannel", wire_channel)
    pc.addTrack(VideoStreamTrack())
    try:
        async with asyncio.timeout(timeout):
            if client.welcome.participants:  # others are here: offer to the first
                peer = client.welcome.participants[0].id
                wire_channel(pc.createDataChannel("chat"))
                await pc.setLocalDescription(await pc.createOffer())
                await client.send(Offer(peer, pc.localDescription.sdp))  # aiortc: all candidates in the SDP
                answer = await client.expect(RelayedAnswer)
                await pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
            else:
                offer = await client.expect(RelayedOffer)
                await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await client.send(Answer(offer.from_, pc.localDescription.sdp))
            both = asyncio.ensure_future(asyncio.gather(got_frame.wait(), got_message.wait()))
            tasks.add(both)
            await asyncio.wait({both, failed}, return_when=asyncio.FIRST_COMPLETED)
            if failed.done():
                both.cancel()
                say(error=failed.result())
                return 1
            say(done=True)
            await stdin_closed()  # keep media flowing until the other peer is done too
            return 0
    except TimeoutError:
        say(error="timeout")
        return 1
    finally:
        await pc.close()
        await client.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def stdin_closed() -> None:
    """Return once standard input reaches end of file (whatever is written to it is ignored)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while await reader.read(4096):
            pass
    finally:
        transport.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(run(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 20.0)))
