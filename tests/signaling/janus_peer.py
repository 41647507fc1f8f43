"""An aiortc publisher or subscriber in a Janus VideoRoom (run as its own process by tests).

    python tests/signaling/janus_peer.py publish URL ROOM NAME
    python tests/signaling/janus_peer.py subscribe URL ROOM FEED[,FEED…] FRAMES

A publisher sends a generated 640x360 video track and a tone, prints {"feed": ID} once joined and
{"state": "connected"} once ICE completed, and keeps publishing until its standard input closes;
each line read on standard input makes it print {"sent": n}, the video frames sent so far.
A subscriber takes the given feeds (one handle each) and prints {"frames": {feed: n}} once every feed
delivered FRAMES decoded video frames, then {"done": true}; it keeps counting until its standard
input closes, printing {"frames": …} again for each line read there.
`Peer` runs one of these as a child process (tests and bench/bench_media.py use it). Janus offers only the host's
non-loopback addresses, so aiortc gathers on them too (everything stays on this machine).
URL may be pingbiao's proxy (/api/booth/<room>/janus): the environment variable JANUS_PEER_HEADERS
(JSON) then carries the member's session cookie and CSRF headers.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from av import AudioFrame, VideoFrame

from signaling.janus.client import JanusSession

ROOT = Path(__file__).resolve().parents[2]


class Peer:
    """A janus_peer.py child process, read line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, *args: str, headers: dict[str, str] | None = None) -> "Peer":
        env = {**os.environ, "PYTHONPATH": str(ROOT), "JANUS_PEER_HEADERS": json.dumps(headers or {})}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__)), *args, env=env, cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def line(self, key: str, timeout: float = 30.0) -> object:
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            assert raw, f"peer exited before saying {key!r} (status {await self.proc.wait()})"
            msg = json.loads(raw)
            assert "error" not in msg, msg
            if key in msg:
                return msg[key]

    async def ask(self, key: str, timeout: float = 30.0) -> object:
        """Write a line to the peer and return its next answer under `key`."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"\n")
        await self.proc.stdin.drain()
        return await self.line(key, timeout)

    async def close(self) -> int:
        if self.proc.returncode is None and self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            return await asyncio.wait_for(self.proc.wait(), 15)
        except asyncio.TimeoutError:
            self.proc.kill()
            return await self.proc.wait()


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


TONE = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / 48000)) for i in range(48000))).tobytes()


class Pattern(VideoStreamTrack):
    """640x360 frames whose brightness steps every second (a visible, changing picture)."""

    sent = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.sent += 1
        frame = VideoFrame(640, 360, "yuv420p")
        y = (pts // 90000 * 40) % 200 + 16
        for plane, value in zip(frame.planes, (y, 128, 128)):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(AudioStreamTrack):
    """A 440 Hz tone, 20 ms frames at 48 kHz, paced like aiortc's silence."""

    async def recv(self) -> AudioFrame:
        silence = await super().recv()
        n = silence.samples
        offset = (silence.pts * 2) % len(TONE)
        data = (TONE + TONE)[offset:offset + 2 * n]
        tone = AudioFrame(format="s16", layout="mono", samples=n)
        tone.planes[0].update(data)
        tone.sample_rate, tone.pts, tone.time_base = 48000, silence.pts, fractions.Fraction(1, 48000)
        return tone


async def stdin_lines(on_line: Callable[[], None]) -> None:
    """Call `on_line` for each line on standard input; return once it closes."""
    while await asyncio.to_thread(sys.stdin.readline):
        on_line()


async def publish(url: str, room: int, name: str) -> int:
    async with aiohttp.ClientSession(headers=json.loads(os.environ.get("JANUS_PEER_HEADERS") or "{}")) as http:
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
        pattern = Pattern()
        pc.addTrack(pattern)
        await pc.setLocalDescription(await pc.createOffer())
        reply = await h.message({"request": "publish", "audio": True, "video": True},
                                {"type": "offer", "sdp": pc.localDescription.sdp})
        await h.trickle_done()
        await pc.setRemoteDescription(RTCSessionDescription(reply["jsep"]["sdp"], "answer"))
        await asyncio.wait_for(connected.wait(), 20)
        await stdin_lines(lambda: say(sent=pattern.sent))
        await pc.close()
        await s.destroy()
    return 0


async def subscribe(url: str, room: int, feeds: list[int], frames: int) -> int:
    """One subscriber handle and connection per feed.

    aiortc routes bundled RTP by the SSRCs its remote description names, else by payload type; a
    Janus multistream offer carrying several video feeds would land them all on the first video
    track, so this test peer takes one feed per connection (a browser can use one for all).
    """
    counts: dict[int, int] = {f: 0 for f in feeds}
    all_done = asyncio.Event()
    pcs: list[RTCPeerConnection] = []
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(headers=json.loads(os.environ.get("JANUS_PEER_HEADERS") or "{}")) as http:
        s = await JanusSession.create(url, http)
        for feed in feeds:
            h = await s.attach()
            ev = await h.message({"request": "join", "ptype": "subscriber", "room": room,
                                  "streams": [{"feed": feed}]})
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.append(pc)

            def on_track(track, feed: int = feed) -> None:  # type: ignore[no-untyped-def]
                if track.kind != "video":
                    return

                async def count() -> None:
                    try:
                        while True:
                            await track.recv()
                            counts[feed] += 1
                            if all(n >= frames for n in counts.values()):
                                all_done.set()
                    except MediaStreamError:
                        pass
                tasks.append(asyncio.create_task(count()))

            pc.on("track", on_track)
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
        await stdin_lines(lambda: say(frames={str(k): v for k, v in counts.items()}))
        for pc in pcs:
            await pc.close()
        await s.destroy()
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "publish":
        return asyncio.run(publish(argv[1], int(argv[2]), argv[3]))
    return asyncio.run(subscribe(argv[1], int(argv[2]), [int(f) for f in argv[3].split(",")], int(argv[4])))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
