"""An aiortc publisher or subscriber in a Janus VideoRoom (run as its own process by tests).

    python tests/signaling/janus_peer.py publish URL ROOM NAME
    python tests/signaling/janus_peer.py subscribe URL ROOM FEED[,FEED…] FRAMES

A publisher sends a generated 640x360 video track and a tone, prints {"feed": ID} once joined and
{"state": "connected"} once ICE completed, and keeps publishing until its standard input closes.
A subscriber takes the given feeds on one handle and prints {"frames": {feed: n}} once every feed
delivered FRAMES decoded video frames, then {"done": true}. Janus offers only the host's
non-loopback addresses, so aiortc gathers on them too (everything stays on this machine).
"""

from __future__ import annotations

import asyncio
import fractions
import json
import sys

import aiohttp
import numpy
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from av import AudioFrame, VideoFrame

from signaling.janus.client import JanusSession


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


class Pattern(VideoStreamTrack):
    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        img = numpy.zeros((360, 640, 3), numpy.uint8)
        img[:, :, 0] = (pts // 3000) % 256
        img[:, (pts // 300) % 640, :] = 255
        frame = VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(AudioStreamTrack):
    def __init__(self) -> None:
        super().__init__()
        self._t = 0

    async def recv(self) -> AudioFrame:
        frame = await super().recv()  # paced silence, 20 ms at 48 kHz
        n = frame.samples
        t = (numpy.arange(n) + self._t) / 48000
        self._t += n
        samples = (numpy.sin(2 * numpy.pi * 440 * t) * 8000).astype(numpy.int16).reshape(1, -1)
        tone = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        tone.sample_rate, tone.pts, tone.time_base = 48000, frame.pts, fractions.Fraction(1, 48000)
        return tone


async def stdin_closed() -> None:
    await asyncio.to_thread(sys.stdin.read)


async def publish(url: str, room: int, name: str) -> int:
    async with aiohttp.ClientSession() as http:
        s = await JanusSession.create(url, http)
        h = await s.attach()
        joined = await h.message({"request": "join", "ptype": "publisher", "room": room, "display": name})
        say(feed=joined["plugindata"]["data"]["id"])
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        connected = asyncio.Event()

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState == "connected":
                say(state="connected")
                connected.set()

        pc.addTrack(Tone())
        pc.addTrack(Pattern())
        await pc.setLocalDescription(await pc.createOffer())
        reply = await h.message({"request": "publish", "audio": True, "video": True},
                                {"type": "offer", "sdp": pc.localDescription.sdp})
        await h.trickle_done()
        await pc.setRemoteDescription(RTCSessionDescription(reply["jsep"]["sdp"], "answer"))
        await asyncio.wait_for(connected.wait(), 20)
        await stdin_closed()
        await pc.close()
        await s.destroy()
    return 0


async def subscribe(url: str, room: int, feeds: list[int], frames: int) -> int:
    async with aiohttp.ClientSession() as http:
        s = await JanusSession.create(url, http)
        h = await s.attach()
        ev = await h.message({"request": "join", "ptype": "subscriber", "room": room,
                              "streams": [{"feed": f} for f in feeds]})
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        counts: dict[int, int] = {f: 0 for f in feeds}
        mid_feed = {str(st["mid"]): st["feed_id"] for st in ev["plugindata"]["data"].get("streams", [])
                    if st.get("type") == "video"}
        all_done = asyncio.Event()
        tasks = []

        @pc.on("track")
        def _track(track) -> None:  # type: ignore[no-untyped-def]
            if track.kind != "video":
                return
            transceiver = next(t for t in pc.getTransceivers() if t.receiver.track is track)
            feed = mid_feed.get(str(transceiver.mid))

            async def count() -> None:
                try:
                    while True:
                        await track.recv()
                        counts[feed] = counts.get(feed, 0) + 1
                        if all(counts.get(f, 0) >= frames for f in feeds):
                            all_done.set()
                except MediaStreamError:
                    pass
            tasks.append(asyncio.create_task(count()))

        await pc.setRemoteDescription(RTCSessionDescription(ev["jsep"]["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await h.message({"request": "start"}, {"type": "answer", "sdp": pc.localDescription.sdp})
        await h.trickle_done()
        try:
            await asyncio.wait_for(all_done.wait(), 30)
        except asyncio.TimeoutError:
            say(error="timeout", frames={str(k): v for k, v in counts.items()})
            return 1
        say(frames={str(k): v for k, v in counts.items()})
        say(done=True)
        await pc.close()
        await s.destroy()
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "publish":
        return asyncio.run(publish(argv[1], int(argv[2]), argv[3]))
    return asyncio.run(subscribe(argv[1], int(argv[2]), [int(f) for f in argv[3].split(",")], int(argv[4])))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
