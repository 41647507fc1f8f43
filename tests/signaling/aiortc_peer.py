"""An aiortc peer that joins a room through the signaling server (run as its own process by tests).

    python tests/signaling/aiortc_peer.py URL TOKEN

The participant who finds others in the room offers to the first of them; one who finds the room
empty waits for an offer. Each side sends a generated video track and, over a data channel, one
message. Prints JSON lines: {"state": ...} per connection-state change, {"message": ...} for the
data-channel message received, {"frame": [w, h]} for the first decoded remote video frame, and
exits 0 once it has both, 1 on timeout.

Loopback only: aioice never gathers 127.0.0.1 and would use the machine's other interfaces, so this
process patches `aioice.ice.get_host_addresses` to return just 127.0.0.1 (tests only).
"""

from __future__ import annotations

import asyncio
import json
import sys

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamTrack

from signaling.client import SignalingClient
from signaling.messages import Answer, Offer, RelayedAnswer, RelayedOffer

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # loopback-only tests


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def run(url: str, token: str, timeout: float) -> int:
    client = await SignalingClient.connect(url, token)
    assert client.welcome is not None
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    got_frame = asyncio.Event()
    got_message = asyncio.Event()

    @pc.on("connectionstatechange")
    def _state() -> None:
        say(state=pc.connectionState)

    @pc.on("track")
    def _track(track: MediaStreamTrack) -> None:
        async def first_frame() -> None:
            frame = await track.recv()
            say(frame=[frame.width, frame.height])  # type: ignore[union-attr]
            got_frame.set()

        if track.kind == "video":
            asyncio.ensure_future(first_frame())

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
            await got_frame.wait()
            await got_message.wait()
            return 0
    except TimeoutError:
        say(error="timeout")
        return 1
    finally:
        await pc.close()
        await client.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(run(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 20.0)))
