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
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from signaling.janus.checkpoints import RecordingHasher
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


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=120, check=False)


@pytest.fixture
async def installation(recordings, tmp_path: Path) -> AsyncIterator[Path]:  # type: ignore[no-untyped-def]
    """A data directory with the recordings in <data>/recordings and their checkpoints in its audit log
    (the entries the media plane writes, from the real files' hashes)."""
    from evaluation.audit.entry import EntryDraft
    from web.cli.installation import installation as opened
    from web.config import Settings

    rec, who = recordings
    data = tmp_path / "data"
    (data / "recordings").mkdir(parents=True)
    shutil.move(str(rec), str(data / "recordings" / ROOM))
    settings = Settings(data_dir=data)
    async with opened(settings) as (_engine, log):
        files = []
        for cp in RecordingHasher(data / "recordings" / ROOM).scan(final=True):
            account, source = who[cp.participant]
            files.append({"file": cp.file, "account": account, "source": source, "stream": cp.stream,
                          "length": cp.length, "sha256": cp.sha256})
        await log.append(EntryDraft("booth.recording_checkpoint", {"room": ROOM, "final": True, "files": files},
                                    "T-ARC-1"))
    yield data


async def test_cli_archives_lists_exports_and_verifies(installation: Path, tmp_path: Path) -> None:
    data = installation
    listed = cli("recordings", "list", "--data-dir", str(data))
    assert listed.returncode == 0, listed.stderr
    assert "acct_alice" in listed.stdout and "camera" in listed.stdout
    rows = [line for line in listed.stdout.splitlines() if ROOM in line]
    assert len(rows) == 2 and all(line.rstrip().endswith("no") for line in rows), listed.stdout

    done = cli("recordings", "archive", "T-ARC-1", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "2 playable files" in done.stdout, done.stdout
    manifest = json.loads((data / "archive" / "T-ARC-1" / ROOM / MANIFEST).read_text())
    assert len(manifest["recordings"]) == 2

    listed = cli("recordings", "list", "T-ARC-1", "--data-dir", str(data))
    rows = [line for line in listed.stdout.splitlines() if ROOM in line]
    assert len(rows) == 2 and all(line.rstrip().endswith("yes") for line in rows), listed.stdout

    missing = cli("recordings", "archive", "T-NONE", "--data-dir", str(data))
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "Traceback" not in missing.stderr and "T-NONE" in missing.stderr

    bundle = tmp_path / "bundle"
    export = cli("audit", "export", str(bundle), "--recordings", "--data-dir", str(data))
    assert export.returncode == 0, export.stderr
    assert (bundle / "recordings" / ROOM).is_dir() and (bundle / "archive" / "T-ARC-1" / ROOM / MANIFEST).is_file()
    ok = cli("audit", "verify", str(bundle), "--recordings", str(bundle / "recordings"))
    assert ok.returncode == 0, ok.stderr
    assert "4 recordings in 1 booth rooms" in ok.stdout, ok.stdout
    assert "2 archived files match" in ok.stdout, ok.stdout

    # a changed byte in an archived copy is named
    victim = bundle / "archive" / "T-ARC-1" / ROOM / manifest["recordings"][0]["file"]
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    victim.write_bytes(bytes(raw))
    bad = cli("audit", "verify", str(bundle), "--recordings", str(bundle / "recordings"))
    assert bad.returncode == 1 and victim.name in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
