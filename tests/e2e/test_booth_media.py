"""The booth's media through pingbiao's Janus (docs/media.md), as members and operators meet it.

The real app starts the real Janus (a child process); aiortc publishers and a subscriber (their own
processes, tests/signaling/janus_peer.py) reach it only through the app's filtering proxy with a
member's session. The recordings grow, the audit log gets their checkpoints, the app's shutdown
writes the final ones, and `pingbiao audit verify --recordings` passes on the untouched files and
names the file a changed byte is in. Janus killed with -9 is an incident in the log, the room is
created again and a member publishes again. Without Janus (setting janus = off) booths stay on the
mesh and the log says nothing is recorded.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from evaluation.accounts.account import Role
from signaling.janus.launcher import JanusProcess
from tests.conftest import need
from tests.e2e.conftest import SHUTDOWN_TIMEOUT, MakeAppServer
from tests.e2e.test_booth import WAIT_MS, Booth, booth_room, make_account, media_browser
from tests.signaling.janus_peer import Peer
from tests.web.signin import session_headers
from web.access.sessions import COOKIE
from web.app import create_app
from web.booth.media import MEDIA, feed_id, janus_room_id
from web.config import Settings
from web.keys import AUDIT_LOG

ROOT = Path(__file__).resolve().parents[2]
media_browser = media_browser  # the fake-camera chromium fixture of the booth test


def need_janus() -> None:
    need(shutil.which("janus") is not None, "janus is not installed (Debian packages janus, janus-tools)")


async def until(predicate: Callable[[], Any], timeout: float = 30.0) -> None:
    """Re-check a condition the app's background tasks change, until a deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


async def kinds_of(app: web.Application, kind: str) -> list[Any]:
    log = app[AUDIT_LOG]
    return [e for e in await log.entries(0, log.size) if e.kind == kind]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    async with http.post(url, json=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def test_recorded_booth_through_the_proxy_and_verified(tmp_path: Path) -> None:
    need_janus()
    data = tmp_path / "data"
    settings = Settings(data_dir=data, beacon_period=1, recording_checkpoint_interval=1)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    peers: list[Peer] = []
    try:
        assert app[MEDIA].sfu, app[MEDIA].unavailable
        alice = await make_account(app, Role.expert, "expert-alice", "王专家 Alice")
        bob = await make_account(app, Role.expert, "expert-bob", "李专家 Bob")
        carol = await make_account(app, Role.supervisor, "supervisor-carol", "赵监管 Carol")
        mallory = await make_account(app, Role.expert, "expert-mallory", "局外专家 Mallory")
        agency = await make_account(app, Role.agency, "agency-erin", "代理机构 Erin")
        room = await booth_room(app, agency, [alice, bob])
        proxy = f"{base}/api/booth/{room}/janus"
        heads = {a.id: await session_headers(app, a) for a in (alice, bob, carol, mallory)}

        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/api/booth/{room}/token", headers=heads[alice.id]) as r:
                grant = (await r.json())["media"]
            assert grant == {"mode": "sfu", "recording": True, "url": f"/api/booth/{room}/janus",
                             "room": janus_room_id(room)}
            # Someone outside the committee gets no media session; a member cannot manage rooms.
            status, _ = await post(http, proxy, {"janus": "create", "transaction": "x"}, heads[mallory.id])
            assert status == 403
            status, reply = await post(http, proxy, {"janus": "create", "transaction": "x"}, heads[alice.id])
            assert status == 200 and reply["janus"] == "success"
            session = reply["data"]["id"]
            status, _ = await post(http, f"{proxy}/{session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"},
                                   heads[bob.id])
            assert status == 404  # Alice's media session is hers alone
            status, reply = await post(http, f"{proxy}/{session}",
                                       {"janus": "attach", "plugin": "janus.plugin.videoroom"}, heads[alice.id])
            handle = reply["data"]["id"]
            for body in ({"request": "create", "room": 5, "record": True}, {"request": "destroy", "room": janus_room_id(room)},
                         {"request": "rtp_forward", "room": janus_room_id(room)}):
                status, reply = await post(http, f"{proxy}/{session}/{handle}", {"janus": "message", "body": body},
                                           heads[alice.id])
                assert status == 403 and reply["janus"] == "error", body
            await post(http, f"{proxy}/{session}", {"janus": "destroy"}, heads[alice.id])
            # A member keeps a few media sessions (reloads, a second tab); the oldest beyond them is let go.
            made = [(await post(http, proxy, {"janus": "create"}, heads[alice.id]))[1]["data"]["id"] for _ in range(5)]
            status, _ = await post(http, f"{proxy}/{made[0]}", {"janus": "keepalive"}, heads[alice.id])
            assert status == 404
            status, reply = await post(http, f"{proxy}/{made[-1]}", {"janus": "keepalive"}, heads[alice.id])
            assert status == 200 and reply["janus"] == "ack"

        # Three members publish through the proxy, under the feed ids pingbiao gives them.
        for who in (alice, bob, carol):
            peers.append(await Peer.start("publish", proxy, "1", who.username, headers=heads[who.id]))
        feeds = [int(await p.line("feed")) for p in peers]  # type: ignore[call-overload]
        assert feeds == [feed_id(room, who.id, "camera") for who in (alice, bob, carol)]
        for p in peers:
            assert await p.line("state") == "connected"
        sub = await Peer.start("subscribe", proxy, "1", ",".join(map(str, feeds)), "30", headers=heads[bob.id])
        peers.append(sub)
        frames = await sub.line("frames", timeout=60)
        assert set(frames) == {str(f) for f in feeds} and all(n >= 30 for n in frames.values())  # type: ignore[union-attr]

        async def checkpointed() -> bool:
            files = {(f["file"], f["account"]) for e in await kinds_of(app, "booth.recording_checkpoint")
                     for f in e.payload["files"] if f["length"] > 20_000}
            return {acct for _, acct in files} == {alice.id, bob.id, carol.id} and len(files) >= 6
        await until(checkpointed)
    finally:
        for p in peers:
            await p.close()
        await asyncio.wait_for(runner.cleanup(), timeout=SHUTDOWN_TIMEOUT + 10)

    rec = data / "recordings" / room
    files = sorted(rec.glob("*.mjr"))
    assert len(files) == 6  # camera video and microphone of three members

    # The platform starts again (a new Janus with it): the room is there again when a member comes back.
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://{host}:{port}/api/booth/{room}/token",
                                headers=await session_headers(app, alice)) as r:
                assert (await r.json())["media"]["mode"] == "sfu"
        assert await app[MEDIA]._rooms_api.exists(janus_room_id(room))  # type: ignore[union-attr]
    finally:
        await asyncio.wait_for(runner.cleanup(), timeout=SHUTDOWN_TIMEOUT + 10)

    export = cli("audit", "export", str(tmp_path / "bundle"), "--data-dir", str(data))
    assert export.returncode == 0, export.stderr
    entries = [json.loads(line) for line in (tmp_path / "bundle" / "entries.jsonl").read_text().splitlines()]
    assert entries  # the bundle holds the log
    ok = cli("audit", "verify", str(tmp_path / "bundle"), "--recordings", str(data / "recordings"))
    assert ok.returncode == 0, ok.stderr
    assert "6 recordings in 1 booth rooms" in ok.stdout, ok.stdout

    victim = files[len(files) // 2]
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    victim.write_bytes(bytes(raw))
    bad = cli("audit", "verify", str(tmp_path / "bundle"), "--recordings", str(data / "recordings"))
    assert bad.returncode == 1
    assert f"{room}/{victim.name}" in bad.stderr and "content differs" in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    raw[len(raw) // 2] ^= 0x01
    victim.write_bytes(bytes(raw))

    stray = rec / files[0].name.replace("-user-", "-user-9").replace(".mjr", "-extra.mjr")
    stray.write_bytes(files[0].read_bytes())
    extra = cli("audit", "verify", str(tmp_path / "bundle"), "--recordings", str(data / "recordings"))
    assert extra.returncode == 1 and stray.name in extra.stderr and "not covered" in extra.stderr, extra.stderr
    stray.unlink()

    files[0].unlink()
    gone = cli("audit", "verify", str(tmp_path / "bundle"), "--recordings", str(data / "recordings"))
    assert gone.returncode == 1 and files[0].name in gone.stderr and "missing" in gone.stderr, gone.stderr


async def test_janus_killed_is_an_incident_and_the_room_comes_back(make_app_server: MakeAppServer) -> None:
    need_janus()
    server = await make_app_server(recording_checkpoint_interval=1)
    app, base = server.app, server.url
    alice = await make_account(app, Role.expert, "expert-alice", "王专家 Alice")
    agency = await make_account(app, Role.agency, "agency-erin", "代理机构 Erin")
    room = await booth_room(app, agency, [alice])
    proxy = f"{base}/api/booth/{room}/janus"
    heads = await session_headers(app, alice)
    media = app[MEDIA]
    first = await Peer.start("publish", proxy, "1", "alice", headers=heads)
    try:
        assert await first.line("state") == "connected"
        assert media.janus is not None and media.janus.proc is not None
        os.kill(media.janus.proc.pid, signal.SIGKILL)

        async def restarted() -> bool:
            return any(e.payload["what"] == "janus_restarted" for e in await kinds_of(app, "booth.media_incident"))
        await until(restarted, timeout=20)
    finally:
        await first.close()
    incidents = [(e.payload["what"], e.tender_id) for e in await kinds_of(app, "booth.media_incident")]
    assert incidents[:2] == [("janus_down", room.removeprefix("eval-")), ("janus_restarted", room.removeprefix("eval-"))]
    again = await Peer.start("publish", proxy, "1", "alice", headers=heads)  # same member, same feed id
    try:
        assert await again.line("feed") == feed_id(room, alice.id, "camera")
        assert await again.line("state") == "connected"
    finally:
        await again.close()


async def test_without_janus_the_booth_says_nothing_is_recorded(make_app_server: MakeAppServer) -> None:
    server = await make_app_server(janus="off")
    app, base = server.app, server.url
    alice = await make_account(app, Role.expert, "expert-alice", "王专家 Alice")
    agency = await make_account(app, Role.agency, "agency-erin", "代理机构 Erin")
    room = await booth_room(app, agency, [alice])
    heads = await session_headers(app, alice)
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            async with http.get(f"{base}/api/booth/{room}/token", headers=heads) as r:
                media = (await r.json())["media"]
        assert media["mode"] == "mesh" and media["recording"] is False and "janus = off" in media["reason"]
        async with http.get(f"{base}/booth/{room}", headers=heads) as r:
            assert "本次评标不录音录像" in await r.text()
        status, _ = await post(http, f"{base}/api/booth/{room}/janus", {"janus": "create"}, heads)
        assert status == 404
    incidents = await kinds_of(app, "booth.media_incident")
    assert [(e.payload["what"], e.payload["room"]) for e in incidents] == [("recording_unavailable", room)]


FRAMES_FROM = "async ([id, n]) => (await window.booth.framesDecoded(id)) > n"


async def test_chromium_booths_on_janus_with_mute_speaker_screen_and_a_restart(
    make_app_server: MakeAppServer, media_browser: Any, tmp_path: Path
) -> None:
    """Two experts' browsers publish and receive through Janus: each decodes the other's camera, sees the
    other's microphone muted, the speaker highlighted and the shared screen; after Janus is killed
    both come back with media on their own, and the recordings hold both cameras and the screen."""
    need_janus()
    server = await make_app_server(recording_checkpoint_interval=1)
    app, base = server.app, server.url
    alice = await make_account(app, Role.expert, "expert-alice", "王专家 Alice")
    bob = await make_account(app, Role.expert, "expert-bob", "李专家 Bob")
    agency = await make_account(app, Role.agency, "agency-erin", "代理机构 Erin")
    room = await booth_room(app, agency, [alice, bob])
    booths = {}
    for who in (alice, bob):
        context = await media_browser.new_context(viewport={"width": 1280, "height": 860})
        context.set_default_timeout(30_000)
        cookie = (await session_headers(app, who))["Cookie"].split("=", 1)[1]
        await context.add_cookies([{"name": COOKIE, "value": cookie, "url": base}])
        page = await context.new_page()
        lines: list[str] = []
        page.on("console", lambda msg, lines=lines: lines.append(f"{msg.type}: {msg.text}"))
        booth = Booth(page, who, lines)
        await page.goto(f"{base}/booth/{room}")
        assert await page.get_attribute("#recording", "data-recording") == "on"
        await page.wait_for_selector("#join:not([disabled])", timeout=WAIT_MS)
        await page.click("#join")
        await booth.until("() => window.booth.joined && window.booth.mediaMode === 'sfu'")
        booths[who.id] = booth
    a, b = booths[alice.id], booths[bob.id]
    try:
        await a.until(FRAMES_FROM, [bob.id, 10])
        await b.until(FRAMES_FROM, [alice.id, 10])
        await b.until("id => window.booth.peerIds().includes(id) && !window.booth.micOff(id)", alice.id)

        # The fake microphone beeps: Bob's page highlights Alice as the one speaking.
        await b.until("id => document.querySelector(`[data-peer=\"${id}\"]`).classList.contains('speaking')", alice.id)
        # Alice mutes: Bob sees her microphone off, and she is no longer highlighted.
        await a.page.click("#mute")
        await b.until("id => window.booth.micOff(id)", alice.id)
        await b.until("id => window.booth.speaker !== id", alice.id)
        await a.page.click("#mute")
        await b.until("id => !window.booth.micOff(id)", alice.id)

        # Alice shares her screen (桌面共享): Bob sees it beside her camera.
        await a.page.click("#share")
        await a.until("() => window.booth.sharing")
        await b.until("id => window.booth.screenShown(id)", alice.id)
        assert await b.page.locator(f'[data-peer="{alice.id}"] .sharing').is_visible()
        await b.page.screenshot(path=str(tmp_path / "booth-sfu.png"), full_page=True)

        # Janus dies: both pages come back with media through the restarted one on their own.
        media = app[MEDIA]
        assert media.janus is not None and media.janus.proc is not None
        before = await b.call("() => window.booth.mediaSession")
        os.kill(media.janus.proc.pid, signal.SIGKILL)
        await b.until("s => window.booth.mediaSession !== null && window.booth.mediaSession !== s", before)
        await b.until(FRAMES_FROM, [alice.id, 10])
        await a.until(FRAMES_FROM, [bob.id, 10])
        await b.until("id => window.booth.screenShown(id)", alice.id)
    except Exception:
        for booth in booths.values():
            print(f"[{booth.account.username}]", *booth.lines[-40:], sep="\n  ")
        raise
    finally:
        for booth in booths.values():
            await asyncio.wait_for(booth.page.context.close(), timeout=SHUTDOWN_TIMEOUT)

    async def recorded() -> bool:
        sources = {(f["account"], f["source"]) for e in await kinds_of(app, "booth.recording_checkpoint")
                   for f in e.payload["files"]}
        return {(alice.id, "camera"), (alice.id, "screen"), (bob.id, "camera")} <= sources
    await until(recorded)
    incidents = [e.payload["what"] for e in await kinds_of(app, "booth.media_incident")]
    assert "janus_down" in incidents and "janus_restarted" in incidents


async def test_janus_at_a_url_is_waited_for_and_its_rooms_come_back(make_app_server: MakeAppServer,
                                                                    tmp_path: Path) -> None:
    need_janus()
    janus = JanusProcess.in_directory(tmp_path / "janus-elsewhere", "admin-secret-elsewhere")
    await janus.start()
    try:
        server = await make_app_server(janus=janus.url)
        app, base = server.app, server.url
        assert app[MEDIA].sfu and app[MEDIA].janus is None  # used, not started
        alice = await make_account(app, Role.expert, "expert-alice", "王专家 Alice")
        agency = await make_account(app, Role.agency, "agency-erin", "代理机构 Erin")
        room = await booth_room(app, agency, [alice])
        proxy = f"{base}/api/booth/{room}/janus"
        heads = await session_headers(app, alice)
        peer = await Peer.start("publish", proxy, "1", "alice", headers=heads)
        try:
            assert await peer.line("state") == "connected"
        finally:
            await peer.close()
        await janus.stop()  # its operator restarts it
        await janus.start()

        async def back() -> bool:
            whats = [e.payload["what"] for e in await kinds_of(app, "booth.media_incident")]
            return whats[:2] == ["janus_down", "janus_restarted"]
        await until(back)
        peer = await Peer.start("publish", proxy, "1", "alice", headers=heads)
        try:
            assert await peer.line("state") == "connected"
        finally:
            await peer.close()
    finally:
        await janus.stop()
