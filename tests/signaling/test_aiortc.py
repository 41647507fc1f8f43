"""Two aiortc peers, each in its own process, meet through the signaling server: they connect,
exchange a data-channel message and receive each other's video frames."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from signaling.codes import Role

from .conftest import Running
from .procs import ROOT

PEER = Path(__file__).with_name("aiortc_peer.py")


async def start_peer(url: str, token: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(PEER), url, token, "20",
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def until_done(proc: asyncio.subprocess.Process) -> list[dict[str, object]]:
    """The peer's JSON lines up to its {"done": true} (or up to its exit, if it failed)."""
    assert proc.stdout is not None
    lines: list[dict[str, object]] = []
    while raw := await proc.stdout.readline():
        lines.append(json.loads(raw))
        if "done" in lines[-1]:
            break
    return lines


async def finish(proc: asyncio.subprocess.Process, lines: list[dict[str, object]]) -> list[dict[str, object]]:
    """Close the peer's standard input (it may now hang up), wait for its exit; all its lines."""
    out, err = await asyncio.wait_for(proc.communicate(b""), 40.0)  # b"": closes its stdin
    lines = lines + [json.loads(line) for line in out.decode().splitlines()]
    assert proc.returncode == 0, f"peer failed ({proc.returncode}): {lines} {err.decode()[-2000:]}"
    return lines


async def test_two_aiortc_processes_connect_through_the_server(srv: Running) -> None:
    url = srv.url("booth-7")
    answerer = await start_peer(url, srv.token("booth-7", "expert-a", Role.EXPERT))
    # the offerer must find the answerer in the room: wait for the answerer's join (a hook event)
    await srv.hooks.wait_for(("on_join", "booth-7", "expert-a", "expert", "joined"), timeout=20.0)
    offerer = await start_peer(url, srv.token("booth-7", "host-h", Role.HOST))
    try:
        # Neither peer may hang up before both have their frame and message: the first to close its
        # RTCPeerConnection sends RTCP BYE and an SCTP ABORT, which end the other's remote track,
        # possibly before that peer decoded its first frame (the cause of an occasional timeout).
        a_done, o_done = await asyncio.wait_for(asyncio.gather(until_done(answerer), until_done(offerer)), 40.0)
        a_lines, o_lines = await asyncio.gather(finish(answerer, a_done), finish(offerer, o_done))
    finally:
        for proc in (answerer, offerer):
            if proc.returncode is None:
                proc.kill()
                await proc.communicate()
    for lines, other in ((a_lines, "host-h"), (o_lines, "expert-a")):
        states = [line["state"] for line in lines if "state" in line]
        assert states[:2] == ["connecting", "connected"], states
        assert {"message": f"hello from {other}"} in lines
        frames = [line["frame"] for line in lines if "frame" in line]
        assert frames == [[640, 480]]  # VideoStreamTrack's size, decoded after VP8 over the wire
        assert {"done": True} in lines
