"""Cheap media load for the rooms benchmark: many feeds per process, no encoding, no decoding.

    python bench/media_load.py publish URL ROOM COUNT FILE
    python bench/media_load.py subscribe URL ROOM FEED[,FEED…]

`publish` joins ROOM COUNT times and publishes FILE (VP8 + Opus in WebM, bench/bench_media.py makes
it with ffmpeg) as it is, packet by packet (aiortc's MediaPlayer with decode=False: the bench loads
the media server, not this process's encoder). It prints {"feeds": [...]} once joined and
{"state": "connected"} once every connection is up; each line on standard input makes it print
{"sent": n}, the video frames sent so far by all its feeds.

`subscribe` takes each feed on its own connection and counts the encoded video frames that arrive
(aiortc's decoder thread is replaced by a counter in this process only: decoding 13 feeds per
subscriber would measure libvpx, not the server). It prints {"state": "connected"} once every
connection is up and {"frames": n} for each line on standard input.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, rtcrtpreceiver  # noqa: E402
from aiortc.contrib.media import MediaPlayer  # noqa: E402
from aiortc.mediastreams import MediaStreamTrack  # noqa: E402

from signaling.janus.client import JanusSession  # noqa: E402

RECEIVED = {"video": 0}
_COUNT_LOCK = threading.Lock()


def _counting_worker(loop: asyncio.AbstractEventLoop, input_q: queue.Queue, output_q: asyncio.Queue,
                     decode_error: threading.Event) -> None:
    """Stands in for aiortc's decoder thread: counts each complete encoded video frame."""
    while True:
        task = input_q.get()
        if task is None:
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            return
        codec, _frame = task
        if codec.mimeType.startswith("video/"):
            with _COUNT_LOCK:
                RECEIVED["video"] += 1


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


class Counted(MediaStreamTrack):
    """A player's track, counting the packets it hands to the sender."""

    def __init__(self, inner: MediaStreamTrack, counter: list[int]) -> None:
        super().__init__()
        self.kind = inner.kind
        self.inner, self.counter = inner, counter

    async def recv(self):  # type: ignore[no-untyped-def]
        packet = await self.inner.recv()
        self.counter[0] += 1
        return packet


async def _connected(pcs: list[RTCPeerConnection], timeout: float = 60) -> None:
    async def one(pc: RTCPeerConnection) -> None:
        while pc.connectionState != "connected":
            if pc.connectionState in ("failed", "closed"):
                raise RuntimeError(f"connection {pc.connectionState}")
            changed = asyncio.Event()
            pc.once("connectionstatechange", changed.set)
            await changed.wait()
    await asyncio.wait_for(asyncio.gather(*(one(pc) for pc in pcs)), timeout)


async def _stdin_lines(on_line) -> None:  # type: ignore[no-untyped-def]
    while await asyncio.to_thread(sys.stdin.readline):
        on_line()


async def publish(url: str, room: int, count: int, file: str) -> int:
    sent = [0]
    pcs: list[RTCPeerConnection] = []
    players: list[MediaPlayer] = []
    async with aiohttp.ClientSession() as http:
        s = await JanusSession.create(url, http)
        feeds = []
        for i in range(count):
            h = await s.attach()
            joined = await h.message({"request": "join", "ptype": "publisher", "room": room, "display": f"load-{i}"})
            feeds.append(joined["plugindata"]["data"]["id"])
            player = MediaPlayer(file, decode=False)
            players.append(player)
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.append(pc)
            assert player.audio is not None and player.video is not None, "the load file needs VP8 video and Opus audio"
            pc.addTrack(player.audio)
            pc.addTrack(Counted(player.video, sent))
            await pc.setLocalDescription(await pc.createOffer())
            reply = await h.message({"request": "publish", "audio": True, "video": True},
                                    {"type": "offer", "sdp": pc.localDescription.sdp})
            await h.trickle_done()
            await pc.setRemoteDescription(RTCSessionDescription(reply["jsep"]["sdp"], "answer"))
        say(feeds=feeds)
        await _connected(pcs)
        say(state="connected")
        await _stdin_lines(lambda: say(sent=sent[0]))
        for player in players:  # stop the players' reader threads before their loop goes
            for track in (player.audio, player.video):
                if track is not None:
                    track.stop()
        for pc in pcs:
            await pc.close()
        await s.destroy()
    return 0


async def subscribe(url: str, room: int, feeds: list[int]) -> int:
    rtcrtpreceiver.decoder_worker = _counting_worker  # this process only (see the module's doc)
    pcs: list[RTCPeerConnection] = []
    async with aiohttp.ClientSession() as http:
        s = await JanusSession.create(url, http)
        for feed in feeds:
            h = await s.attach()
            ev = await h.message({"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed}]})
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.append(pc)
            await pc.setRemoteDescription(RTCSessionDescription(ev["jsep"]["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await h.message({"request": "start"}, {"type": "answer", "sdp": pc.localDescription.sdp})
            await h.trickle_done()
        await _connected(pcs)
        say(state="connected")
        await _stdin_lines(lambda: say(frames=RECEIVED["video"]))
        for pc in pcs:
            await pc.close()
        await s.destroy()
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "publish":
        return asyncio.run(publish(argv[1], int(argv[2]), int(argv[3]), argv[4]))
    return asyncio.run(subscribe(argv[1], int(argv[2]), [int(f) for f in argv[3].split(",")]))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
