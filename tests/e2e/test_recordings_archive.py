"""The booth's recordings after the session (docs/media.md, "Archive"), on real recordings.

Two aiortc publishers (their own processes, tests/signaling/janus_peer.py) send a test pattern and a
tone into a real Janus VideoRoom for a few seconds; the recordings it wrote are archived
(web/booth/archive.py: janus-pp-rec + ffmpeg -c copy) and the playable files are read back with
ffprobe, their hashes and the originals' against the manifest. Then the same recordings sit in an
installation whose audit log holds their checkpoints, and the command line archives, lists, exports
and verifies them. Without janus, janus-pp-rec or ffmpeg these tests skip (fail under CI).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest

from signaling.janus.client import JanusSession, VideoRoom
from signaling.janus.launcher import JanusProcess
from tests.conftest import need
from tests.signaling.janus_peer import Peer
from web.booth.archive import MANIFEST, archive_room

ROOT = Path(__file__).resolve().parents[2]
ROOM_SECRET = "room-secret-for-tests"
ROOM = "eval-T-ARC-1"
MIN_VIDEO_BYTES = 60_000  # a few seconds of the 640x360 pattern


def need_tools() -> None:
    for tool, package in (("janus", "janus"), ("janus-pp-rec", "janus-tools"), ("ffmpeg", "ffmpeg"),
                          ("ffprobe", "ffmpeg")):
        need(shutil.which(tool) is not None, f"{tool} is not installed (Debian package {package})")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ffprobe(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True, capture_output=True, text=True).stdout)


async def until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Re-check a condition Janus's recording changes, until a deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[str, str]]]:
    """A room's real recordings: two publishers, camera and microphone each, a few seconds long."""
    need_tools()
    base = tmp_path_factory.mktemp("recorded")
    rec = base / "recordings" / ROOM
    rec.mkdir(parents=True)

    async def record() -> dict[str, tuple[str, str]]:
        janus = JanusProcess.in_directory(base / "janus", "admin-secret-for-tests")
        await janus.start()
        try:
            async with aiohttp.ClientSession() as http:
                session = await JanusSession.create(janus.url, http)
                rooms = VideoRoom(await session.attach())
                await rooms.create(4711, ROOM_SECRET, str(rec))
                peers = [await Peer.start("publish", janus.url, "4711", name) for name in ("expert-a", "expert-b")]
                try:
                    feeds = [str(await p.line("feed")) for p in peers]
                    for p in peers:
                        assert await p.line("state") == "connected"

                    def grown() -> bool:
                        videos = [f for f in rec.glob("*-video-*.mjr") if f.stat().st_size > MIN_VIDEO_BYTES]
                        audios = list(rec.glob("*-audio-*.mjr"))
                        return len(videos) == 2 and len(audios) == 2
                    await until(grown)
                finally:
                    for p in peers:
                        await p.close()
                await rooms.destroy(4711, ROOM_SECRET)  # Janus closes the recordings
                await session.destroy()
        finally:
            await janus.stop()
        return {feeds[0]: ("acct_alice", "camera"), feeds[1]: ("acct_bob", "camera")}

    return rec, asyncio.run(record())


@pytest.fixture
def recordings(recorded: tuple[Path, dict[str, tuple[str, str]]], tmp_path: Path) -> tuple[Path, dict[str, tuple[str, str]]]:
    """A private copy of the recorded room (tests may change files)."""
    rec, who = recorded
    copy = tmp_path / "recordings" / ROOM
    shutil.copytree(rec, copy)
    return copy, who


async def test_archive_makes_playable_files_with_a_manifest(recordings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rec, who = recordings
    originals = {f.name: sha256(f) for f in rec.glob("*.mjr")}
    assert len(originals) == 4
    target = tmp_path / "archive" / "T-ARC-1" / ROOM
    manifest, changed = await archive_room(ROOM, "T-ARC-1", rec, target, who, 15)
    assert changed
    on_disk = json.loads((target / MANIFEST).read_text())
    assert on_disk == manifest
    assert on_disk["room"] == ROOM and on_disk["tender"] == "T-ARC-1" and on_disk["retention_years"] == 15
    assert len(on_disk["recordings"]) == 2
    assert {(r["account"], r["source"]) for r in on_disk["recordings"]} == {("acct_alice", "camera"), ("acct_bob", "camera")}
    for entry in on_disk["recordings"]:
        out = target / entry["file"]
        assert out.name.startswith(f"{entry['account']}-camera-") and out.suffix == ".webm"
        assert sha256(out) == entry["sha256"] and out.stat().st_size == entry["size"]
        probe = ffprobe(out)
        kinds = {s["codec_type"]: s["codec_name"] for s in probe["streams"]}
        assert kinds == {"video": "vp8", "audio": "opus"}, kinds
        assert float(probe["format"]["duration"]) > 1.0
        assert entry["duration"] > 1.0
        assert {m["kind"] for m in entry["mjr"]} == {"video", "audio"}
        for m in entry["mjr"]:  # the originals are kept, untouched, and the manifest names their hashes
            assert originals[m["file"]] == m["sha256"] == sha256(rec / m["file"])
            assert m["length"] == (rec / m["file"]).stat().st_size
    year = int(on_disk["recordings"][-1]["start"][:4])
    assert on_disk["retain_until"].startswith(str(year + 15))
    assert {f.name: sha256(f) for f in rec.glob("*.mjr")} == originals
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # no temporary leftovers

    # archiving again changes nothing; a recording that is gone is no longer in the manifest
    again, changed = await archive_room(ROOM, "T-ARC-1", rec, target, who, 15)
    assert not changed and again["recordings"] == manifest["recordings"]
    for f in rec.glob("*.mjr"):
        if f.name in {m["file"] for m in manifest["recordings"][0]["mjr"]}:
            f.unlink()
    fewer, changed = await archive_room(ROOM, "T-ARC-1", rec, target, who, 15)
    assert changed and len(fewer["recordings"]) == 1
