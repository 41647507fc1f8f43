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
TENDER = "T-ARC-1"
ROOM = f"eval-{TENDER}"
MIN_VIDEO_BYTES = 30_000  # a few seconds of the 640x360 pattern (it compresses well)


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
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """An installation whose booth room was really recorded: two publishers (camera and microphone
    each) while the audit log takes their checkpoints every second, as the media plane does; Bob
    drops first (a feed_stalled incident), Alice goes on a few seconds more. Returns the data
    directory and the accounts by name."""
    need_tools()
    from evaluation.accounts.account import Role, create_account
    from evaluation.audit.entry import EntryDraft
    from tests.web.signin import PASSWORD
    from web.cli.installation import installation as opened
    from web.config import Settings

    base = tmp_path_factory.mktemp("recorded")
    data = base / "data"
    rec = data / "recordings" / ROOM
    rec.mkdir(parents=True)

    async def record() -> dict[str, str]:
        janus = JanusProcess.in_directory(base / "janus", "admin-secret-for-tests")
        await janus.start()
        async with opened(Settings(data_dir=data)) as (_engine, log):
            people = {}
            for username, name, role in (("expert-alice", "王专家 Alice", Role.expert),
                                         ("expert-bob", "李专家 Bob", Role.expert),
                                         ("supervisor-carol", "赵监管 Carol", Role.supervisor)):
                people[username] = (await create_account(log, username=username, password=PASSWORD, display_name=name,
                                                         role=role, organization="测试单位")).id
            hasher = RecordingHasher(rec)
            who: dict[str, tuple[str, str]] = {}

            async def checkpoint(final: bool = False) -> None:
                cps = hasher.scan(final)
                if cps:
                    await log.append(EntryDraft("booth.recording_checkpoint", {"room": ROOM, "final": final, "files": [
                        {"file": c.file, "account": who.get(c.participant, ("", ""))[0], "source": "camera",
                         "stream": c.stream, "length": c.length, "sha256": c.sha256} for c in cps]}, TENDER))

            try:
                async with aiohttp.ClientSession() as http:
                    session = await JanusSession.create(janus.url, http)
                    rooms = VideoRoom(await session.attach())
                    await rooms.create(4711, ROOM_SECRET, str(rec))
                    alice, bob = [await Peer.start("publish", janus.url, "4711", name) for name in ("expert-alice", "expert-bob")]
                    try:
                        who[str(await alice.line("feed"))] = (people["expert-alice"], "camera")
                        who[str(await bob.line("feed"))] = (people["expert-bob"], "camera")
                        for p in (alice, bob):
                            assert await p.line("state") == "connected"

                        def videos() -> dict[str, int]:
                            return {f.name.split("-user-")[1].split("-")[0]: f.stat().st_size for f in rec.glob("*-video-*.mjr")}

                        async def grown(feeds: dict[str, int], by: int) -> None:
                            while not all(videos().get(f, 0) > n + by for f, n in feeds.items()):
                                await checkpoint()
                                await asyncio.sleep(1)  # the checkpoint interval

                        await grown({f: 0 for f in who}, MIN_VIDEO_BYTES)
                        await bob.close()  # Bob drops; Alice goes on
                        await checkpoint()
                        bob_video = next(f.name for f in rec.glob("*-video-*.mjr") if who.get(
                            f.name.split("-user-")[1].split("-")[0], ("",))[0] == people["expert-bob"])
                        await log.append(EntryDraft("booth.media_incident", {
                            "room": ROOM, "what": "feed_stalled", "detail": f"{bob_video} stopped growing"}, TENDER))
                        alice_feed = next(f for f, (a, _) in who.items() if a == people["expert-alice"])
                        await grown({alice_feed: videos()[alice_feed]}, MIN_VIDEO_BYTES)
                    finally:
                        await alice.close()
                        await bob.close()
                    await rooms.destroy(4711, ROOM_SECRET)  # Janus closes the recordings
                    await session.destroy()
                await checkpoint(final=True)
            finally:
                await janus.stop()
        return people

    return data, asyncio.run(record())


@pytest.fixture
def data_dir(recorded: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    """A private copy of the recorded installation (tests change files)."""
    copy = tmp_path / "data"
    shutil.copytree(recorded[0], copy)
    return copy


def who_of(people: dict[str, str], rec: Path) -> dict[str, tuple[str, str]]:
    """feed → (account, source), as the checkpoints in the copy's log name them (read from the files here)."""
    import sqlite3

    from evaluation.audit.entry import decode_leaf

    out: dict[str, tuple[str, str]] = {}
    with sqlite3.connect(rec.parents[1] / "pingbiao.db") as db:
        for (leaf,) in db.execute("select leaf from audit_entry order by idx"):
            entry = decode_leaf(bytes(leaf))
            if entry.kind == "booth.recording_checkpoint":
                for f in entry.payload["files"]:
                    out[f["file"].split("-user-")[1].split("-")[0]] = (f["account"], f["source"])
    assert {a for a, _ in out.values()} == {people["expert-alice"], people["expert-bob"]}
    return out


async def test_archive_makes_playable_files_with_a_manifest(recorded, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    people = recorded[1]
    rec = data_dir / "recordings" / ROOM
    who = who_of(people, rec)
    alice, bob = people["expert-alice"], people["expert-bob"]
    originals = {f.name: sha256(f) for f in rec.glob("*.mjr")}
    assert len(originals) == 4
    target = tmp_path / "archive" / "T-ARC-1" / ROOM
    manifest, changed = await archive_room(ROOM, "T-ARC-1", rec, target, who, 15)
    assert changed
    on_disk = json.loads((target / MANIFEST).read_text())
    assert on_disk == manifest
    assert on_disk["room"] == ROOM and on_disk["tender"] == "T-ARC-1" and on_disk["retention_years"] == 15
    assert len(on_disk["recordings"]) == 2
    assert {(r["account"], r["source"]) for r in on_disk["recordings"]} == {(alice, "camera"), (bob, "camera")}
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


def test_cli_archives_lists_exports_and_verifies(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands through web.cli.main (parsing, dispatch, one-line errors) in this process; the
    offline verification of the exported bundle as its own process, as an outside verifier runs it."""
    data = data_dir

    def pingbiao(*args: str) -> subprocess.CompletedProcess[str]:
        from web.cli.main import main

        code = main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    listed = pingbiao("recordings", "list", "--data-dir", str(data))
    assert listed.returncode == 0, listed.stderr
    print(listed.stdout)
    assert "王专家 Alice" in listed.stdout and "李专家 Bob" in listed.stdout and "camera" in listed.stdout
    rows = [line for line in listed.stdout.splitlines() if ROOM in line]
    assert len(rows) == 2 and all(line.rstrip().endswith("no") for line in rows), listed.stdout

    with monkeypatch.context() as m:
        m.setenv("PATH", str(tmp_path))
        bare = pingbiao("recordings", "archive", "T-ARC-1", "--data-dir", str(data))
    assert bare.returncode == 1 and "janus-pp-rec" in bare.stderr and "未安装" in bare.stderr, bare.stderr
    assert len(bare.stderr.strip().splitlines()) == 1 and not (data / "archive").exists()

    done = pingbiao("recordings", "archive", "T-ARC-1", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "2 playable files" in done.stdout, done.stdout
    manifest = json.loads((data / "archive" / "T-ARC-1" / ROOM / MANIFEST).read_text())
    assert len(manifest["recordings"]) == 2

    listed = pingbiao("recordings", "list", "T-ARC-1", "--data-dir", str(data))
    rows = [line for line in listed.stdout.splitlines() if ROOM in line]
    assert len(rows) == 2 and all(line.rstrip().endswith("yes") for line in rows), listed.stdout

    missing = pingbiao("recordings", "archive", "T-NONE", "--data-dir", str(data))
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "Traceback" not in missing.stderr and "T-NONE" in missing.stderr

    bundle = tmp_path / "bundle"
    export = pingbiao("audit", "export", str(bundle), "--recordings", "--data-dir", str(data))
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
    bad = pingbiao("audit", "verify", str(bundle), "--recordings", str(bundle / "recordings"))
    assert bad.returncode == 1 and victim.name in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


async def test_supervisor_replays_the_recordings_in_step_with_the_log(
        recorded, data_dir: Path, make_app_server, new_page) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.test_tender_flow import screenshot, sign_in
    from tests.web.signin import session_headers
    from web.booth.archive import recording_ended
    from web.keys import AUDIT_LOG

    people = recorded[1]
    server = await make_app_server(data_dir=data_dir)
    app, base = server.app, server.url
    await recording_ended(app, [ROOM])  # what the media plane calls when the room's recording ends
    manifest = json.loads((data_dir / "archive" / TENDER / ROOM / MANIFEST).read_text())
    entries = await app[AUDIT_LOG].entries_for_tender(TENDER)
    assert any(e.kind == "booth.recording_archived" for e in entries)
    by_account = {e["account"]: e for e in manifest["recordings"]}
    alice, bob = by_account[people["expert-alice"]], by_account[people["expert-bob"]]
    both = next(e for e in entries if e.kind == "booth.recording_checkpoint"
                and e.time.timestamp() < bob["start_us"] / 1e6 + bob["duration"] - 0.5
                and e.time.timestamp() > max(alice["start_us"], bob["start_us"]) / 1e6 + 0.5)
    stalled = next(e for e in entries if e.kind == "booth.media_incident")
    assert alice["start_us"] / 1e6 + alice["duration"] > stalled.time.timestamp() + 0.5  # Alice still recording

    url = f"{base}/audit/tenders/{TENDER}/recordings/{ROOM}/{alice['file']}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={**await session_headers(app, await account(app, people["supervisor-carol"])),
                                          "Range": "bytes=100-299"}) as r:
            assert r.status == 206 and len(await r.read()) == 200 and r.headers["Content-Type"] == "video/webm"
        async with http.get(url, headers=await session_headers(app, await account(app, people["expert-alice"]))) as r:
            assert r.status == 403
        async with http.get(url.replace(alice["file"], "manifest.json"),
                            headers=await session_headers(app, await account(app, people["supervisor-carol"]))) as r:
            assert r.status == 404

    page = await new_page()
    await sign_in(page, base, "supervisor-carol")
    await page.goto(f"{base}/audit/tenders/{TENDER}")
    players = page.locator(".tp-player")
    assert await players.count() == 2
    assert await page.locator(".tp-stall").count() == 1  # Bob's drop, on his track

    def player(name: str):  # type: ignore[no-untyped-def]
        return page.locator(".tp-player", has_text=name)

    # an entry while both were recording: both players play from that moment
    await page.click(f"#e{both.index} .tp-seek")
    for name, entry in (("王专家 Alice", alice), ("李专家 Bob", bob)):
        video = player(name).locator("video")
        await video.evaluate("v => new Promise(ok => v.readyState >= 1 && !v.seeking ? ok() : v.addEventListener('seeked', ok, {once: true}))")
        at = await video.evaluate("v => v.currentTime")
        assert abs(at - (both.time.timestamp() - entry["start_us"] / 1e6)) < 0.5, (name, at)
        assert await player(name).locator(".tp-gap").is_hidden()
        assert await video.evaluate("v => v.duration") > 1.0
    # the incident after Bob dropped: Alice plays on, Bob's player shows the gap
    await page.click(f"#e{stalled.index} .tp-seek")
    assert await player("李专家 Bob").locator(".tp-gap").is_visible()
    assert await player("李专家 Bob").locator("video").is_hidden()
    video = player("王专家 Alice").locator("video")
    await video.evaluate("v => new Promise(ok => !v.seeking ? ok() : v.addEventListener('seeked', ok, {once: true}))")
    at = await video.evaluate("v => v.currentTime")
    assert abs(at - (stalled.time.timestamp() - alice["start_us"] / 1e6)) < 0.5, at
    await page.locator("#recordings").scroll_into_view_if_needed()
    await screenshot(page, "replay-recordings")
    shot = Path(os.environ.get("PINGBIAO_E2E_SCREENSHOTS") or tmp_dir(data_dir)) / "replay-recordings-players.png"
    await page.locator("#recordings").screenshot(path=str(shot))
    assert shot.stat().st_size > 0


async def account(app, account_id: str):  # type: ignore[no-untyped-def]
    from evaluation.accounts.account import get_account
    from web.keys import ENGINE

    return await get_account(app[ENGINE], account_id)


def tmp_dir(data_dir: Path) -> Path:
    return data_dir.parent


async def test_an_evaluation_that_ends_archives_its_booth_without_a_restart(
        recorded, data_dir: Path, make_app_server) -> None:  # type: ignore[no-untyped-def]
    """The report's last signature ends the evaluation: the media plane archives the booth's
    recordings so far in the background (the route calls ``evaluation_ended``), so the supervisor
    can replay them while the platform keeps running."""
    from web.booth.media import MEDIA
    from web.keys import AUDIT_LOG

    server = await make_app_server(data_dir=data_dir)
    media = server.app[MEDIA]
    media.evaluation_ended("T-NO-BOOTH")  # a tender whose booth never met: nothing to archive
    assert not media._archiving
    await media.ensure_room(ROOM)  # the booth met on this process (Janus started, the room recorded)
    media.evaluation_ended(TENDER)
    assert media._archiving
    await asyncio.gather(*media._archiving)
    manifest = json.loads((data_dir / "archive" / TENDER / ROOM / MANIFEST).read_text())
    assert {e["account"] for e in manifest["recordings"]} == set(recorded[1][k] for k in ("expert-alice", "expert-bob"))
    archived = [e for e in await server.app[AUDIT_LOG].entries_for_tender(TENDER) if e.kind == "booth.recording_archived"]
    assert len(archived) == 1 and archived[0].payload["room"] == ROOM
