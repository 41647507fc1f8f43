"""One participant of a full-mesh booth (the browser mesh the SFU replaced), for bench/bench_media.py.

    python bench/mesh_peer.py NAME

It publishes a 640x360 pattern and a tone (tests/signaling/janus_peer.py's tracks) to every other
participant over its own RTCPeerConnection, as a browser in the mesh does: one camera, encoded and
sent once per peer. The bench relays the offers and answers; JSON lines on standard input:

    {"call": PEER}                 -> {"offer": SDP, "to": PEER}
    {"offer": SDP, "from": PEER}   -> {"answer": SDP, "to": PEER}
    {"answer": SDP, "from": PEER}  -> {"connected": PEER} once that connection is up
    {"stats": true}                -> {"stats": {"sent": frames taken from the camera,
                                                 "bytes": RTP bytes sent to all peers,
                                                 "copies": outbound video streams,
                                                 "received": {PEER: video frames decoded}}}

An answerer says {"connected": PEER} too. It exits when standard input closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402

from tests.signaling.janus_peer import Pattern, Tone, say  # noqa: E402


class Participant:
    def __init__(self) -> None:
        self.camera, self.microphone = Pattern(), Tone()
        # One source, a copy per connection; unbuffered: a connection whose encoder falls behind
        # drops frames as a browser does, rather than queueing them.
        self.relay = MediaRelay()
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.received: dict[str, int] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def connection(self, peer: str) -> RTCPeerConnection:
        pc = self.pcs[peer] = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.received[peer] = 0
        pc.addTrack(self.relay.subscribe(self.microphone, buffered=False))
        pc.addTrack(self.relay.subscribe(self.camera, buffered=False))

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState == "connected":
                say(connected=peer)

        @pc.on("track")
        def _track(track) -> None:  # type: ignore[no-untyped-def]
            if track.kind == "video":
                task = asyncio.create_task(self.count(peer, track))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

        return pc

    async def count(self, peer: str, track) -> None:  # type: ignore[no-untyped-def]
        try:
            while True:
                await track.recv()
                self.received[peer] += 1
        except MediaStreamError:
            pass

    async def stats(self) -> dict[str, object]:
        sent_bytes, copies = 0, 0
        for pc in self.pcs.values():
            for s in (await pc.getStats()).values():
                if s.type == "outbound-rtp":
                    sent_bytes += s.bytesSent
                    copies += s.kind == "video"
        return {"sent": self.camera.sent, "bytes": sent_bytes, "copies": copies, "received": dict(self.received)}

    async def handle(self, msg: dict[str, str]) -> None:
        if "call" in msg:
            pc = self.connection(msg["call"])
            await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers here: no trickle
            say(offer=pc.localDescription.sdp, to=msg["call"])
        elif "offer" in msg:
            pc = self.connection(msg["from"])
            await pc.setRemoteDescription(RTCSessionDescription(msg["offer"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            say(answer=pc.localDescription.sdp, to=msg["from"])
        elif "answer" in msg:
            await self.pcs[msg["from"]].setRemoteDescription(RTCSessionDescription(msg["answer"], "answer"))
        elif "stats" in msg:
            say(stats=await self.stats())


async def main() -> int:
    me = Participant()
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            await me.handle(json.loads(line))
    finally:
        for pc in me.pcs.values():
            await pc.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
