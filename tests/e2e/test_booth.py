"""The booth (评标舱) as users meet it: two headless Chromium pages with fake cameras and
microphones, signed in as two experts, and an aiortc peer (this process) join one room through
the real app; frames decode on every side. One page loses its WebSocket and comes back within the
grace period: the other page keeps its RTCPeerConnection (ICE restart, `peer-back` not
`peer-joined`), media resumes, and the audit log records who joined and reconnected.

Loopback only: the pages drop remote ICE candidates that are not 127.0.0.1 (an init script) and
aioice is patched to gather 127.0.0.1 only, so no media leaves 127.0.0.1.

Each room is the evaluation session of a real tender (``eval-<tender id>``) whose committee is
seated by the real pool import and draw on the app's local beacon
(tests/evaluation/experts_fixtures.py), since only the tender's agency, its committee and
supervisors may join.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
import pytest
from aiortc import (
    AudioStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from evaluation.accounts.account import Account, Role, create_account
from signaling.client import SignalingClient
from signaling.messages import (
    Answer,
    Offer,
    PeerBack,
    PeerJoined,
    PeerLeft,
    RelayedAnswer,
    RelayedCandidate,
    RelayedOffer,
)
from tests.e2e.conftest import (
    PAGE_TIMEOUT_MS,
    SHUTDOWN_TIMEOUT,
    MakeAppServer,
    launch_chromium,
)
from tests.evaluation.experts_fixtures import People, draw_committee, opened_tender
from tests.web.signin import PASSWORD, session_headers
from web.access.sessions import COOKIE
from web.api.experts import DRAW_JOB
from web.api.tenders import TENDERS
from web.booth.media import MEDIA_KINDS
from web.booth.routes import PRESENCE
from web.keys import AUDIT_LOG

WAIT_MS = 20_000  # bound on every wait in the browser
MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
LOOPBACK_ONLY = """
(() => {
  const loopback = (text) => / 127\\.0\\.0\\.1 /.test(text);
  const strip = (sdp) => sdp.split("\\r\\n").filter((l) => !l.startsWith("a=candidate:") || loopback(l)).join("\\r\\n");
  const srd = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = function (d, ...rest) {
    if (d && d.sdp) d = { type: d.type, sdp: strip(d.sdp) };
    return srd.call(this, d, ...rest);
  };
  const add = RTCPeerConnection.prototype.addIceCandidate;
  RTCPeerConnection.prototype.addIceCandidate = function (c, ...rest) {
    if (c && c.candidate && !loopback(c.candidate)) return Promise.resolve();
    return add.call(this, c, ...rest);
  };
})();
"""


def loopback_sdp(sdp: str) -> str:
    return "\r\n".join(line for line in sdp.split("\r\n") if not line.startswith("a=candidate:") or " 127.0.0.1 " in line)


@pytest.fixture
async def media_browser() -> AsyncIterator[Any]:
    """Debian's chromium with a fake camera and microphone and loopback WebRTC (shared notes)."""
    async with launch_chromium(MEDIA_ARGS) as browser:
        yield browser


@dataclass
class Booth:
    page: Any
    account: Account
    lines: list[str] = field(default_factory=list)

    async def call(self, expr: str, arg: Any = None) -> Any:
        return await self.page.evaluate(expr, arg)

    async def until(self, predicate: str, arg: Any = None) -> None:
        await self.page.wait_for_function(predicate, arg=arg, polling=200, timeout=WAIT_MS)


@pytest.fixture
async def open_booth(media_browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    contexts: list[Any] = []
    booths: list[Booth] = []

    async def open_(base: str, app: Any, account: Account, room: str) -> Booth:
        context = await media_browser.new_context(viewport={"width": 1280, "height": 860})
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        contexts.append(context)
        cookie = (await session_headers(app, account))["Cookie"].split("=", 1)[1]
        await context.add_cookies([{"name": COOKIE, "value": cookie, "url": base}])
        await context.add_init_script(LOOPBACK_ONLY)
        page = await context.new_page()
        booth = Booth(page, account)
        page.on("console", lambda msg: booth.lines.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda err: booth.lines.append(f"pageerror: {err}"))
        booths.append(booth)
        await page.goto(f"{base}/booth/{room}")
        await page.wait_for_selector("#join:not([disabled])", timeout=WAIT_MS)
        await page.click("#join")
        await booth.until("() => window.booth.joined")
        return booth

    try:
        yield open_
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            for booth in booths:
                for line in booth.lines:
                    print(f"[{booth.account.username}] {line}")
        for context in contexts:
            await asyncio.wait_for(context.close(), timeout=SHUTDOWN_TIMEOUT)


class AiortcPeer:
    """A Python participant: offers to whoever is in the room, answers offers, and on `peer-back`
    renegotiates a fresh RTCPeerConnection (aiortc cannot restart ICE). Records video frames."""

    def __init__(self, client: SignalingClient) -> None:
        self.client = client
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.frames: dict[str, int] = {}  # peer → video frames received on its current connection
        self.events: list[tuple[str, str]] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def _new_pc(self, peer: str) -> RTCPeerConnection:
        old = self.pcs.pop(peer, None)
        if old is not None:
            asyncio.ensure_future(old.close())
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs[peer] = pc
        self.frames[peer] = 0
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            if track.kind != "video":
                return

            async def count() -> None:
                while self.pcs.get(peer) is pc:
                    try:
                        await track.recv()
                    except MediaStreamError:  # the connection was replaced or closed
                        return
                    self.frames[peer] += 1
                    self._changed.set()

            asyncio.ensure_future(count())

        return pc

    async def _offer(self, peer: str) -> None:
        pc = self._new_pc(peer)
        await pc.setLocalDescription(await pc.createOffer())
        await self.client.send(Offer(peer, pc.localDescription.sdp))  # every candidate is in the SDP

    async def _run(self) -> None:
        assert self.client.welcome is not None
        self.client.start_heartbeat(self.client.welcome.heartbeat / 2)
        for p in self.client.welcome.participants:
            await self._offer(p.id)
        while True:
            msg = await self.client.recv(timeout=3600)
            if isinstance(msg, PeerBack):
                self.events.append(("peer-back", msg.id))
                await self._offer(msg.id)
            elif isinstance(msg, PeerJoined):
                self.events.append(("peer-joined", msg.peer.id))
            elif isinstance(msg, PeerLeft):
                pc = self.pcs.pop(msg.id, None)
                if pc is not None:
                    await pc.close()
            elif isinstance(msg, RelayedAnswer):
                pc = self.pcs.get(msg.from_)
                if pc is not None and pc.signalingState == "have-local-offer":
                    await pc.setRemoteDescription(RTCSessionDescription(loopback_sdp(msg.sdp), "answer"))
            elif isinstance(msg, RelayedOffer):
                pc = self.pcs.get(msg.from_)
                if pc is not None and pc.signalingState != "stable":
                    continue  # impolite: ignore the colliding offer
                pc = self._new_pc(msg.from_)
                await pc.setRemoteDescription(RTCSessionDescription(loopback_sdp(msg.sdp), "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await self.client.send(Answer(msg.from_, pc.localDescription.sdp))
            elif isinstance(msg, RelayedCandidate):
                pc = self.pcs.get(msg.from_)
                c = msg.candidate
                if pc is not None and c.candidate and " 127.0.0.1 " in c.candidate:
                    candidate = candidate_from_sdp(c.candidate.removeprefix("candidate:"))
                    candidate.sdpMid, candidate.sdpMLineIndex = c.sdp_mid, c.sdp_mline_index
                    await pc.addIceCandidate(candidate)

    async def wait_frames(self, peer: str, at_least: int, timeout: float = WAIT_MS / 1000) -> None:
        async with asyncio.timeout(timeout):
            while self.frames.get(peer, 0) < at_least:
                if self._task.done():
                    self._task.result()
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        for pc in self.pcs.values():
            await pc.close()
        await self.client.close()


async def make_account(app: Any, role: Role, username: str, display_name: str) -> Account:
    return await create_account(app[AUDIT_LOG], username=username, password=PASSWORD, display_name=display_name,
                                role=role, organization="测试单位")


async def booth_room(app: Any, agency: Account, experts: list[Account]) -> str:
    """The booth room of an opened tender of `agency` whose drawn committee seats `experts`."""
    tctx = app[TENDERS]
    tender = await opened_tender(tctx, People(agency, []))
    await draw_committee(tctx, app[DRAW_JOB], agency.actor, tender.id, [e.id for e in experts])
    return f"eval-{tender.id}"


async def room_token(base: str, app: Any, account: Account, room: str) -> str:
    headers = await session_headers(app, account)
    async with aiohttp.ClientSession() as http, http.get(f"{base}/api/booth/{room}/token", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["token"])


FRAMES_FROM = "async ([id, n]) => (await window.booth.framesDecoded(id)) > n"


async def test_booth_mesh_with_aiortc_and_a_dropped_socket(
    make_app_server: MakeAppServer, open_booth: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    server = await make_app_server(janus="off")  # the mesh, kept for installations without Janus
    app, base = server.app, server.url
    alice = await make_account(app, Role.expert, "expert-alice", "王专家 Alice")
    bob = await make_account(app, Role.expert, "expert-bob", "李专家 Bob")
    carol = await make_account(app, Role.supervisor, "supervisor-carol", "赵监管 Carol")
    agency = await make_account(app, Role.agency, "agency-erin", "代理机构 Erin")
    room = await booth_room(app, agency, [alice, bob])
    log = app[AUDIT_LOG]
    start = log.size

    a = await open_booth(base, app, alice, room)
    b = await open_booth(base, app, bob, room)
    py = AiortcPeer(await SignalingClient.connect(f"{base.replace('http', 'ws')}/signaling/rooms/{room}",
                                                  await room_token(base, app, carol, room)))
    try:
        # Everyone sees everyone: frames decode in both pages from both remote peers, and in aiortc from both pages.
        for me, others in ((a, (bob, carol)), (b, (alice, carol))):
            for other in others:
                await me.until(FRAMES_FROM, [other.id, 0])
        await py.wait_frames(alice.id, 1)
        await py.wait_frames(bob.id, 1)
        assert await a.call("id => window.booth.isAiortc(id)", carol.id) is True
        assert await a.call("id => window.booth.isAiortc(id)", bob.id) is False

        shot = tmp_path / "booth-two-peers.png"
        for other in (bob, carol):
            await a.until("id => window.booth.quality(id) !== 'unknown'", other.id)
        await a.page.screenshot(path=str(shot), full_page=True)
        # On a phone the booth's tiles and score panel stack: nothing scrolls sideways.
        await a.page.set_viewport_size({"width": 390, "height": 844})
        await a.page.screenshot(path=str(tmp_path / "booth-390.png"), full_page=True)
        assert await a.page.evaluate("document.documentElement.scrollWidth") <= 390
        await a.page.set_viewport_size({"width": 1280, "height": 860})

        # Alice's WebSocket drops; she comes back within the grace period.
        pc_of_alice_at_bob = await b.call("id => window.booth.pcId(id)", alice.id)
        pc_of_bob_at_alice = await a.call("id => window.booth.pcId(id)", bob.id)
        ufrag_before = await b.call("id => window.booth.iceUfrag(id)", alice.id)
        events_before = len(await b.call("() => window.booth.events"))
        assert await a.call("() => window.booth._dropSocket()") is True
        await b.until(
            "([id, n]) => window.booth.events.slice(n).some(e => e.type === 'peer-back' && e.id === id)",
            [alice.id, events_before],
        )
        await a.until("() => window.booth.joined")
        # ICE restarted on the same RTCPeerConnection (new local credentials), not a new connection.
        await b.until("([id, u]) => { const f = window.booth.iceUfrag(id); return f && f !== u; }", [alice.id, ufrag_before])
        decoded = await b.call("id => window.booth.framesDecoded(id)", alice.id)
        await b.until(FRAMES_FROM, [alice.id, decoded + 30])
        decoded = await a.call("id => window.booth.framesDecoded(id)", bob.id)
        await a.until(FRAMES_FROM, [bob.id, decoded + 30])
        assert await b.call("id => window.booth.pcId(id)", alice.id) == pc_of_alice_at_bob
        assert await a.call("id => window.booth.pcId(id)", bob.id) == pc_of_bob_at_alice
        events = [e for e in (await b.call("() => window.booth.events"))[events_before:] if e["id"] == alice.id]
        assert [e["type"] for e in events] in (["peer-reconnecting", "peer-back"], ["peer-back"]), events
        assert sorted(await b.call("() => window.booth.peerIds()")) == sorted([alice.id, carol.id])

        # aiortc renegotiated a fresh connection with Alice (it cannot restart ICE) and sees her again.
        await py.wait_frames(alice.id, 10)
        assert ("peer-back", alice.id) in py.events and ("peer-joined", alice.id) not in py.events
        await a.until(FRAMES_FROM, [carol.id, 0])

        # The audit log: who joined, and Alice's reconnect.
        await app[PRESENCE].drain()
        logged = await log.entries(start, log.size)
        booth_entries = [e for e in logged if e.kind.startswith("booth.") and e.kind not in MEDIA_KINDS]
        # on the mesh nothing is recorded, and the log says so once for the room
        assert [e.payload["what"] for e in logged if e.kind == "booth.media_incident"] == ["recording_unavailable"]
        seen = [(e.kind, e.actor.account, e.payload["reason"]) for e in booth_entries]
        joined = [(acct, reason) for kind, acct, reason in seen if kind == "booth.joined"]
        assert joined == [(alice.id, "joined"), (bob.id, "joined"), (carol.id, "joined")], seen
        reconnects = [(acct, reason) for kind, acct, reason in seen if kind == "booth.reconnected"]
        assert (alice.id, "back") in reconnects and all(acct == alice.id for acct, _ in reconnects), seen
        assert reconnects[-1] == (alice.id, "back") and reconnects[0][1] in {"lost", "replaced"}, seen
        assert all(e.tender_id == room.removeprefix("eval-") and e.actor.role in {"expert", "supervisor"} for e in booth_entries)
        assert not any(k in {"booth.left", "booth.removed"} for k, _, _ in seen)
        assert shot.stat().st_size > 10_000
    finally:
        await py.close()


async def test_booth_shows_refusals_in_plain_words(make_app_server: MakeAppServer, open_booth: Any) -> None:
    """A removed participant sees one line saying so; the host sees host actions."""
    server = await make_app_server()
    app, base = server.app, server.url
    host = await make_account(app, Role.agency, "agency-host", "代理机构主持人 Host")
    expert = await make_account(app, Role.expert, "expert-dave", "周专家 Dave")
    room = await booth_room(app, host, [expert])
    h = await open_booth(base, app, host, room)
    e = await open_booth(base, app, expert, room)
    await h.until("id => window.booth.peerIds().includes(id)", expert.id)
    tile = h.page.locator(f'[data-peer="{expert.id}"]')
    await tile.locator(".host-actions").wait_for(state="visible", timeout=WAIT_MS)
    assert await e.page.locator(".host-actions:visible").count() == 0  # experts have no host actions
    await tile.locator('[data-action="mute-audio"]').click()
    await e.until("() => document.querySelector('#mute').getAttribute('aria-pressed') === 'true'")
    h.page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept("测试 test")))
    await tile.locator('[data-action="remove"]').click()
    await e.until("() => !document.querySelector('#error').hidden && /移出|removed/.test(document.querySelector('#error').textContent)")
    text = await e.page.locator("#error").inner_text()
    assert re.search(r"被主持人移出", text) and "测试 test" in text, text
    await h.until("id => !window.booth.peerIds().includes(id)", expert.id)
    await app[PRESENCE].drain()
    kinds = [(x.kind, x.actor.account) for x in await app[AUDIT_LOG].entries(0, app[AUDIT_LOG].size)]
    assert ("booth.removed", expert.id) in kinds
