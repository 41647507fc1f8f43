"""The media plane through a real Janus: VideoRoom with aiortc publishers, recordings, checkpoints.

Janus runs as a child process with a config generated in a temporary directory; aiortc peers run as
their own processes (tests/signaling/janus_peer.py). Without janus these tests skip (fail under CI).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from signaling.janus.checkpoints import (
    Checkpoint,
    RecordingHasher,
    checkpoint_loop,
    prefix_sha256,
    verify,
)
from signaling.janus.client import JanusError, JanusSession, VideoRoom
from signaling.janus.launcher import JanusProcess, JanusUnavailable
from signaling.janus.supervisor import JanusSupervisor

from ..conftest import need
from .janus_peer import Peer

ROOM_SECRET = "room-secret-for-tests"


@pytest.fixture
async def janus(tmp_path: Path) -> AsyncIterator[JanusProcess]:
    need(shutil.which("janus") is not None, "janus is not installed (Debian packages janus, janus-tools)")
    proc = JanusProcess.in_directory(tmp_path / "janus", "admin-secret-for-tests")
    await proc.start()
    try:
        yield proc
    finally:
        await proc.stop()


async def make_room(janus: JanusProcess, http: aiohttp.ClientSession, room: int, rec_dir: Path):
    session = await JanusSession.create(janus.url, http)
    rooms = VideoRoom(await session.attach())
    await rooms.create(room, ROOM_SECRET, str(rec_dir))
    return session, rooms


async def test_launcher_generates_a_minimal_config_and_answers(janus: JanusProcess) -> None:
    assert list(janus.info["plugins"]) == ["janus.plugin.videoroom"]
    assert list(janus.info["transports"]) == ["janus.transport.http"]
    async with aiohttp.ClientSession() as http:
        # the admin API wants its secret
        async with http.post(janus.cfg.admin_url, json={"janus": "list_sessions", "transaction": "t"}) as r:
            assert (await r.json(content_type=None))["janus"] == "error"
        async with http.post(janus.cfg.admin_url, json={
            "janus": "list_sessions", "transaction": "t", "admin_secret": janus.cfg.admin_secret}) as r:
            assert (await r.json(content_type=None))["janus"] == "success"


async def test_room_needs_its_secret_to_be_destroyed(janus: JanusProcess, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        session, rooms = await make_room(janus, http, 4321, tmp_path / "rec")
        await session.keepalive()
        with pytest.raises(JanusError):
            await rooms.destroy(4321, "wrong")
        assert await rooms.exists(4321)
        await rooms.destroy(4321, ROOM_SECRET)
        assert not await rooms.exists(4321)
        await session.destroy()


async def test_missing_janus_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JanusUnavailable, match="not installed"):
        await JanusProcess.in_directory(tmp_path / "j", "x").start()


def test_hasher_reads_only_new_bytes_and_matches_a_fresh_hash(tmp_path: Path) -> None:
    f = tmp_path / "videoroom-7-user-99-1700000000000000-video-1.mjr"
    f.write_bytes(b"MJR00002" + bytes(range(256)) * 10)
    hasher = RecordingHasher(tmp_path)
    (first,) = hasher.scan()
    assert (first.room, first.participant, first.stream) == ("7", "99", "video-1")
    assert first.sha256 == prefix_sha256(f, first.length)
    assert hasher.scan() == []  # nothing grew, nothing to report
    with open(f, "ab") as out:
        out.write(b"MEET" + b"\x00" * 5000)
    (second,) = hasher.scan()
    assert second.length == first.length + 5004
    assert second.sha256 == prefix_sha256(f, second.length)
    assert prefix_sha256(f, first.length) == first.sha256  # appended, so the old checkpoint holds


async def test_publishers_subscriber_recordings_and_checkpoints(janus: JanusProcess, tmp_path: Path) -> None:
    need(shutil.which("janus-pp-rec") is not None, "janus-pp-rec is not installed (Debian janus-tools)")
    need(shutil.which("ffprobe") is not None, "ffprobe is not installed (Debian ffmpeg)")
    rec = tmp_path / "rec"
    rec.mkdir()
    room = 1001
    checkpoints: list[Checkpoint] = []

    async def on_checkpoint(cp: Checkpoint) -> None:
        checkpoints.append(cp)

    async with aiohttp.ClientSession() as http:
        session, rooms = await make_room(janus, http, room, rec)
        stop = asyncio.Event()
        loop = asyncio.create_task(checkpoint_loop(rec, on_checkpoint, stop, interval=1.0))
        publishers = [await Peer.start("publish", janus.url, str(room), f"expert-{i}") for i in range(3)]
        try:
            feeds = [int(await p.line("feed")) for p in publishers]  # type: ignore[call-overload]
            for p in publishers:
                assert await p.line("state") == "connected"
            sub = await Peer.start("subscribe", janus.url, str(room), ",".join(map(str, feeds)), "30")
            frames = await sub.line("frames", timeout=60)
            assert await sub.close() == 0
            assert set(frames) == {str(f) for f in feeds}  # type: ignore[arg-type]
            assert all(n >= 30 for n in frames.values())  # type: ignore[union-attr]
            # the recordings grew while the checkpoints were being taken
            await wait_for(lambda: len({c.file for c in checkpoints if c.length > 50_000}) >= 3)
        finally:
            for p in publishers:
                await p.close()
        await rooms.destroy(room, ROOM_SECRET)
        stop.set()
        hasher = await loop
        await session.destroy()

    files = sorted(rec.glob("*.mjr"))
    assert {f.name for f in files} == {c.file for c in checkpoints}
    kinds = {(c.participant, c.stream.split("-")[0]) for c in checkpoints}
    assert kinds == {(str(f), k) for f in feeds for k in ("audio", "video")}
    for cp in checkpoints:  # every checkpoint, early or final, matches a fresh hash of that prefix
        assert cp.sha256 == prefix_sha256(rec / cp.file, cp.length), cp
    finals = {c.file: c for c in checkpoints if c.final}
    assert {f.name: f.stat().st_size for f in files} == {n: c.length for n, c in finals.items()}
    assert max(len([c for c in checkpoints if c.file == f.name]) for f in files) >= 2
    assert hasher is not None
    assert verify(rec, checkpoints) is None

    # one byte changed in a finished recording is found and located between two checkpoints
    victim = files[0]
    size = victim.stat().st_size
    data = bytearray(victim.read_bytes())
    data[size // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    bad = verify(rec, checkpoints)
    assert bad is not None and bad.file == victim.name and bad.reason == "content differs"
    assert bad.start <= size // 2 < bad.end
    data[size // 2] ^= 0xFF
    victim.write_bytes(bytes(data))

    video = next(f for f in files if "-video-" in f.name)
    out = tmp_path / "out.webm"
    subprocess.run(["janus-pp-rec", str(video), str(out)], check=True, capture_output=True)
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(out)],
        check=True, capture_output=True, text=True).stdout)
    assert probe["streams"][0]["codec_name"] == "vp8"
    assert (probe["streams"][0]["width"], probe["streams"][0]["height"]) == (640, 360)
    assert float(probe["format"]["duration"]) > 1.0
    print(f"recorded {len(files)} files, {sum(f.stat().st_size for f in files)} bytes, "
          f"{len(checkpoints)} checkpoints, video {probe['format']['duration']} s; frames {frames}")


async def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Re-check a condition that the checkpoint loop changes, until a deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_supervisor_restarts_janus_killed_with_sigkill(janus: JanusProcess) -> None:
    incidents: list[str] = []
    restarted = asyncio.Event()

    async def on_incident(what: str) -> None:
        incidents.append(what)

    async def on_restart() -> None:
        restarted.set()

    sup = JanusSupervisor(janus, on_incident, on_restart)
    sup.start()
    assert janus.proc is not None
    old = janus.proc.pid
    killed_at = asyncio.get_running_loop().time()
    os.kill(old, signal.SIGKILL)
    await asyncio.wait_for(restarted.wait(), 10)
    print(f"janus killed with -9 answered again after {asyncio.get_running_loop().time() - killed_at:.2f} s")
    assert incidents and "-9" in incidents[0]
    assert janus.alive() and janus.proc is not None and janus.proc.pid != old
    async with aiohttp.ClientSession() as http:  # the new one answers and takes rooms again
        session = await JanusSession.create(janus.url, http)
        rooms = VideoRoom(await session.attach())
        await rooms.create(55, ROOM_SECRET, "/tmp")
        assert await rooms.exists(55)
        await session.destroy()
    await sup.stop()
